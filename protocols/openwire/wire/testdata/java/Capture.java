import java.util.ArrayList;
import java.util.Arrays;
import java.util.Enumeration;
import java.util.List;

import javax.jms.BytesMessage;
import javax.jms.Connection;
import javax.jms.DeliveryMode;
import javax.jms.MapMessage;
import javax.jms.Message;
import javax.jms.MessageConsumer;
import javax.jms.MessageProducer;
import javax.jms.ObjectMessage;
import javax.jms.Queue;
import javax.jms.Session;
import javax.jms.StreamMessage;
import javax.jms.TemporaryQueue;
import javax.jms.TextMessage;
import javax.jms.Topic;
import javax.jms.TopicSubscriber;

import org.apache.activemq.ActiveMQConnectionFactory;

/**
 * Drives the real ActiveMQ JMS client against the Go capture listener in
 * capture_test.go: it sends one message of every type with every property
 * type, receives them back (the listener dispatches what it decoded, re-encoded
 * by the Go encoder) and checks every field, then exercises transactions,
 * temporary queues and durable subscriptions. Exit status 0 = all checks held.
 */
public class Capture {
    static final String TEXT = "h\u00e9llo \ud834\udd1e w\u00f6rld \u0000 end";

    public static void main(String[] args) throws Exception {
        String url = args[0];
        boolean compress = url.contains("useCompression=true");
        ActiveMQConnectionFactory cf = new ActiveMQConnectionFactory(url);
        Connection c = cf.createConnection("capuser", "cappw");
        c.setClientID("cap-client");
        c.start();
        Session s = c.createSession(false, Session.AUTO_ACKNOWLEDGE);
        Queue q = s.createQueue("cap.q");
        TemporaryQueue tmp = s.createTemporaryQueue();
        MessageProducer p = s.createProducer(q);
        p.setPriority(7);
        p.setTimeToLive(600000);

        List<Message> sent = new ArrayList<>();
        TextMessage tm = s.createTextMessage(TEXT);
        props(tm);
        tm.setJMSCorrelationID("corr-1");
        tm.setJMSReplyTo(tmp);
        tm.setJMSType("cap-type");
        tm.setStringProperty("JMSXGroupID", "group-a");
        tm.setIntProperty("JMSXGroupSeq", 3);
        sent.add(tm);

        BytesMessage bm = s.createBytesMessage();
        byte[] all = new byte[256];
        for (int i = 0; i < all.length; i++) all[i] = (byte) i;
        bm.writeBytes(all);
        bm.setBooleanProperty("bytes", true);
        sent.add(bm);

        MapMessage mm = s.createMapMessage();
        mm.setBoolean("bool", true);
        mm.setByte("byte", (byte) -7);
        mm.setChar("char", '\u00e9');
        mm.setShort("short", (short) -300);
        mm.setInt("int", 70000);
        mm.setLong("long", 1L << 40);
        mm.setFloat("float", 1.5f);
        mm.setDouble("double", -2.25);
        mm.setString("string", "map \u00e9");
        mm.setBytes("bytes", new byte[] {1, 2, 3});
        sent.add(mm);

        StreamMessage sm = s.createStreamMessage();
        sm.writeBoolean(false);
        sm.writeByte((byte) 5);
        sm.writeChar('x');
        sm.writeShort((short) 12);
        sm.writeInt(-1);
        sm.writeLong(Long.MIN_VALUE);
        sm.writeFloat(0.25f);
        sm.writeDouble(Math.PI);
        sm.writeString("stream");
        sm.writeBytes(new byte[] {9, 8});
        sm.writeObject(null);
        sent.add(sm);

        ObjectMessage om = s.createObjectMessage("an object body");
        sent.add(om);

        Message plain = s.createMessage();
        plain.setStringProperty("plain", "yes");
        sent.add(plain);

        StringBuilder big = new StringBuilder();
        for (int i = 0; i < 3000; i++) big.append("big\u00e9");
        TextMessage bigm = s.createTextMessage(big.toString());
        bigm.setStringProperty("bigprop", big.toString());
        sent.add(bigm);

        for (int i = 0; i < sent.size(); i++) {
            p.send(sent.get(i), i % 2 == 0 ? DeliveryMode.PERSISTENT : DeliveryMode.NON_PERSISTENT, 7, 600000);
        }

        MessageConsumer cons = s.createConsumer(q);
        for (int i = 0; i < sent.size(); i++) {
            Message got = cons.receive(10000);
            if (got == null) fail("message " + i + " not received");
            check(i, sent.get(i), got);
        }
        cons.close();

        // A transacted session: begin/commit, and a rollback.
        Session ts = c.createSession(true, Session.SESSION_TRANSACTED);
        MessageProducer tp = ts.createProducer(ts.createQueue("cap.tx"));
        tp.send(ts.createTextMessage("in tx"));
        ts.commit();
        tp.send(ts.createTextMessage("rolled back"));
        ts.rollback();
        ts.close();

        // A durable subscription, removed again.
        Topic t = s.createTopic("cap.topic");
        TopicSubscriber sub = s.createDurableSubscriber(t, "cap-sub", "n > 1", true);
        sub.close();
        s.unsubscribe("cap-sub");

        tmp.delete();
        p.close();
        s.close();
        c.close();
        System.out.println("OK " + sent.size() + (compress ? " compressed" : ""));
    }

    static void props(Message m) throws Exception {
        m.setBooleanProperty("pbool", true);
        m.setByteProperty("pbyte", (byte) -1);
        m.setShortProperty("pshort", (short) 32000);
        m.setIntProperty("pint", Integer.MIN_VALUE);
        m.setLongProperty("plong", Long.MAX_VALUE);
        m.setFloatProperty("pfloat", 3.5f);
        m.setDoubleProperty("pdouble", 1e300);
        // No character outside the BMP: the client writes it with writeUTF
        // and reads it back as standard UTF-8, garbling its own value.
        m.setStringProperty("pstring", "prop \u00e9\u20ac");
    }

    static void check(int i, Message want, Message got) throws Exception {
        String where = "message " + i + " (" + want.getClass().getSimpleName() + "): ";
        if (!want.getClass().equals(got.getClass())) fail(where + "class " + got.getClass());
        if (!want.getJMSMessageID().equals(got.getJMSMessageID())) fail(where + "id " + got.getJMSMessageID());
        if (want.getJMSPriority() != got.getJMSPriority()) fail(where + "priority " + got.getJMSPriority());
        if (want.getJMSDeliveryMode() != got.getJMSDeliveryMode()) fail(where + "delivery mode");
        if (want.getJMSExpiration() != got.getJMSExpiration()) fail(where + "expiration");
        if (want.getJMSTimestamp() != got.getJMSTimestamp()) fail(where + "timestamp");
        if (!eq(want.getJMSCorrelationID(), got.getJMSCorrelationID())) fail(where + "correlation " + got.getJMSCorrelationID());
        if (!eq(want.getJMSType(), got.getJMSType())) fail(where + "type " + got.getJMSType());
        if (!eq(String.valueOf(want.getJMSReplyTo()), String.valueOf(got.getJMSReplyTo()))) fail(where + "reply-to " + got.getJMSReplyTo());
        for (Enumeration<?> e = want.getPropertyNames(); e.hasMoreElements();) {
            String k = (String) e.nextElement();
            if (!eq(want.getObjectProperty(k), got.getObjectProperty(k))) fail(where + "property " + k + " = " + got.getObjectProperty(k));
        }
        if (got instanceof TextMessage) {
            if (!((TextMessage) want).getText().equals(((TextMessage) got).getText())) fail(where + "text");
        } else if (got instanceof BytesMessage) {
            BytesMessage g = (BytesMessage) got;
            byte[] b = new byte[(int) g.getBodyLength()];
            g.readBytes(b);
            if (b.length != 256 || b[255] != (byte) 255) fail(where + "bytes " + b.length);
        } else if (got instanceof MapMessage) {
            MapMessage g = (MapMessage) got;
            if (!g.getBoolean("bool") || g.getByte("byte") != -7 || g.getChar("char") != '\u00e9' || g.getShort("short") != -300
                    || g.getInt("int") != 70000 || g.getLong("long") != 1L << 40 || g.getFloat("float") != 1.5f
                    || g.getDouble("double") != -2.25 || !g.getString("string").equals("map \u00e9")
                    || !Arrays.equals(g.getBytes("bytes"), new byte[] {1, 2, 3})) fail(where + "map body");
        } else if (got instanceof StreamMessage) {
            StreamMessage g = (StreamMessage) got;
            if (g.readBoolean() || g.readByte() != 5 || g.readChar() != 'x' || g.readShort() != 12 || g.readInt() != -1
                    || g.readLong() != Long.MIN_VALUE || g.readFloat() != 0.25f || g.readDouble() != Math.PI
                    || !g.readString().equals("stream")) fail(where + "stream body");
            byte[] b = new byte[2];
            if (g.readBytes(b) != 2 || b[0] != 9 || g.readObject() != null) fail(where + "stream tail");
        } else if (got instanceof ObjectMessage) {
            if (!"an object body".equals(((ObjectMessage) got).getObject())) fail(where + "object");
        }
    }

    static boolean eq(Object a, Object b) {
        return a == null ? b == null : a.equals(b);
    }

    static void fail(String msg) {
        System.out.println("FAIL " + msg);
        System.exit(1);
    }
}
