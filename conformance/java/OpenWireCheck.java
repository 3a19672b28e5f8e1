// OpenWireCheck runs one conformance check with the ActiveMQ JMS client, the
// way a Java application uses it. The Go runner compiles it at run time and
// starts one JVM per check:
//
//   java -cp CLASSPATH OpenWireCheck BROKER_URL USER PASSWORD CHECK NAME [BODY]
//
// It prints "PASS", "FAIL reason" or "SKIP reason" as its last line (and,
// for the interop receiver, "READY" once subscribed and then the body it
// received). Exit status 0 means the line was printed.
import java.io.Serializable;
import java.util.Enumeration;
import javax.jms.*;
import org.apache.activemq.ActiveMQConnectionFactory;

public class OpenWireCheck {
    static String url, user, password, name;

    public static void main(String[] args) throws Exception {
        url = args[0];
        user = args[1].isEmpty() ? null : args[1];
        password = args[2].isEmpty() ? null : args[2];
        String check = args[3];
        name = args[4];
        try {
            switch (check) {
                case "connect": connect(); break;
                case "queue-order": queueOrder(); break;
                case "topic": topic(); break;
                case "durable": durable(); break;
                case "selector": selector(); break;
                case "transaction": transaction(); break;
                case "client-ack": clientAck(); break;
                case "temp-queue": tempQueue(); break;
                case "browser": browser(); break;
                case "message-types": messageTypes(); break;
                case "prefetch0": prefetch0(); break;
                case "interop-send": interopSend(args[5]); break;
                case "interop-recv": interopRecv(); break;
                default: throw new Fail("unknown check " + check);
            }
            System.out.println("PASS");
        } catch (Skip s) {
            System.out.println("SKIP " + s.getMessage());
        } catch (Fail f) {
            System.out.println("FAIL " + f.getMessage());
        } catch (Throwable t) {
            System.out.println("FAIL " + t.getClass().getName() + ": " + t.getMessage());
        }
        System.out.flush();
        System.exit(0);
    }

    static class Fail extends Exception { Fail(String m) { super(m); } }
    static class Skip extends Exception { Skip(String m) { super(m); } }

    static void require(boolean ok, String what) throws Fail {
        if (!ok) throw new Fail(what);
    }

    static Connection connection(String query, String clientID) throws JMSException {
        ActiveMQConnectionFactory f = new ActiveMQConnectionFactory(url + query);
        Connection c = f.createConnection(user, password);
        if (clientID != null) c.setClientID(clientID);
        c.start();
        return c;
    }

    static Connection connection() throws JMSException { return connection("", null); }

    static void connect() throws Exception {
        Connection c = connection();
        c.close();
    }

    static void queueOrder() throws Exception {
        Connection c = connection();
        try {
            Session s = c.createSession(false, Session.AUTO_ACKNOWLEDGE);
            Queue q = s.createQueue(name);
            MessageProducer p = s.createProducer(q);
            p.setDeliveryMode(DeliveryMode.PERSISTENT);
            for (int i = 0; i < 20; i++) p.send(s.createTextMessage("m" + i));
            MessageConsumer mc = s.createConsumer(q);
            for (int i = 0; i < 20; i++) {
                Message m = mc.receive(5000);
                require(m != null, "message " + i + " of 20 not received");
                require(("m" + i).equals(((TextMessage) m).getText()), "message " + i + " out of order: " + ((TextMessage) m).getText());
            }
        } finally { c.close(); }
    }

    static void topic() throws Exception {
        Connection c = connection();
        try {
            Session s = c.createSession(false, Session.AUTO_ACKNOWLEDGE);
            Topic t = s.createTopic(name);
            MessageConsumer a = s.createConsumer(t), b = s.createConsumer(t);
            s.createProducer(t).send(s.createTextMessage("to all"));
            require(a.receive(5000) != null, "first subscriber received nothing");
            require(b.receive(5000) != null, "second subscriber received nothing");
        } finally { c.close(); }
    }

    static void durable() throws Exception {
        String id = "conf-" + name;
        Connection c = connection("", id);
        Session s = c.createSession(false, Session.AUTO_ACKNOWLEDGE);
        Topic t = s.createTopic(name);
        s.createDurableSubscriber(t, "sub").close();
        c.close();
        Connection p = connection();
        Session ps = p.createSession(false, Session.AUTO_ACKNOWLEDGE);
        MessageProducer pr = ps.createProducer(ps.createTopic(name));
        pr.setDeliveryMode(DeliveryMode.PERSISTENT);
        pr.send(ps.createTextMessage("while away"));
        p.close();
        c = connection("", id);
        try {
            s = c.createSession(false, Session.AUTO_ACKNOWLEDGE);
            TopicSubscriber sub = s.createDurableSubscriber(s.createTopic(name), "sub");
            Message m = sub.receive(5000);
            require(m != null, "the durable subscriber did not get what was sent while it was away");
            sub.close();
            s.unsubscribe("sub");
        } finally { c.close(); }
    }

    static void selector() throws Exception {
        Connection c = connection();
        try {
            Session s = c.createSession(false, Session.AUTO_ACKNOWLEDGE);
            Queue q = s.createQueue(name);
            MessageProducer p = s.createProducer(q);
            for (String color : new String[]{"blue", "red"}) {
                TextMessage m = s.createTextMessage(color);
                m.setStringProperty("color", color);
                p.send(m);
            }
            Message m = s.createConsumer(q, "color = 'red'").receive(5000);
            require(m != null, "nothing matched the selector");
            require("red".equals(((TextMessage) m).getText()), "selector let " + ((TextMessage) m).getText() + " through");
        } finally { c.close(); }
    }

    static void transaction() throws Exception {
        Connection c = connection();
        try {
            Session s = c.createSession(true, Session.SESSION_TRANSACTED);
            Queue q = s.createQueue(name);
            MessageProducer p = s.createProducer(q);
            p.send(s.createTextMessage("rolled back"));
            s.rollback();
            p.send(s.createTextMessage("committed"));
            s.commit();
            MessageConsumer mc = s.createConsumer(q);
            Message m = mc.receive(5000);
            require(m != null, "the committed message was not delivered");
            require("committed".equals(((TextMessage) m).getText()), "a rolled back send was delivered");
            s.rollback();
            m = mc.receive(5000);
            require(m != null, "a rolled back receive was not redelivered");
            require(m.getJMSRedelivered(), "the redelivered message is not marked JMSRedelivered");
            s.commit();
            require(mc.receive(500) == null, "a committed receive came back");
        } finally { c.close(); }
    }

    static void clientAck() throws Exception {
        Connection c = connection();
        Session s = c.createSession(false, Session.CLIENT_ACKNOWLEDGE);
        Queue q = s.createQueue(name);
        s.createProducer(q).send(s.createTextMessage("ack me"));
        require(s.createConsumer(q).receive(5000) != null, "nothing received");
        c.close(); // without acknowledging
        c = connection();
        try {
            s = c.createSession(false, Session.CLIENT_ACKNOWLEDGE);
            Message m = s.createConsumer(s.createQueue(name)).receive(5000);
            require(m != null, "the unacknowledged message was not redelivered");
            m.acknowledge();
        } finally { c.close(); }
    }

    static void tempQueue() throws Exception {
        Connection c = connection();
        try {
            Session s = c.createSession(false, Session.AUTO_ACKNOWLEDGE);
            Queue requests = s.createQueue(name);
            MessageConsumer server = s.createConsumer(requests);
            TemporaryQueue replies = s.createTemporaryQueue();
            MessageConsumer client = s.createConsumer(replies);
            TextMessage req = s.createTextMessage("ping");
            req.setJMSReplyTo(replies);
            req.setJMSCorrelationID("c-1");
            s.createProducer(requests).send(req);
            Message got = server.receive(5000);
            require(got != null, "the request did not arrive");
            TextMessage resp = s.createTextMessage("pong");
            resp.setJMSCorrelationID(got.getJMSCorrelationID());
            s.createProducer(got.getJMSReplyTo()).send(resp);
            Message r = client.receive(5000);
            require(r != null, "the reply did not reach the temporary queue");
            require("c-1".equals(r.getJMSCorrelationID()), "correlation id came back as " + r.getJMSCorrelationID());
        } finally { c.close(); }
    }

    static void browser() throws Exception {
        Connection c = connection();
        try {
            Session s = c.createSession(false, Session.AUTO_ACKNOWLEDGE);
            Queue q = s.createQueue(name);
            MessageProducer p = s.createProducer(q);
            for (int i = 0; i < 3; i++) p.send(s.createTextMessage("b" + i));
            int n = 0;
            Enumeration<?> e = s.createBrowser(q).getEnumeration();
            while (e.hasMoreElements()) { e.nextElement(); n++; }
            require(n == 3, "the browser saw " + n + " of 3 messages");
            MessageConsumer mc = s.createConsumer(q);
            for (int i = 0; i < 3; i++) require(mc.receive(5000) != null, "browsing consumed message " + i);
        } finally { c.close(); }
    }

    static void messageTypes() throws Exception {
        Connection c = connection();
        try {
            Session s = c.createSession(false, Session.AUTO_ACKNOWLEDGE);
            Queue q = s.createQueue(name);
            MessageProducer p = s.createProducer(q);
            TextMessage t = s.createTextMessage("text");
            t.setBooleanProperty("b", true); t.setByteProperty("y", (byte) -3); t.setShortProperty("s", (short) 300);
            t.setIntProperty("i", 70000); t.setLongProperty("l", 1L << 40); t.setFloatProperty("f", 1.5f);
            t.setDoubleProperty("d", 2.25); t.setStringProperty("str", "v");
            p.send(t);
            BytesMessage bm = s.createBytesMessage(); bm.writeBytes(new byte[]{1, 2, 3}); p.send(bm);
            MapMessage mm = s.createMapMessage(); mm.setInt("n", 7); mm.setString("k", "v"); p.send(mm);
            StreamMessage sm = s.createStreamMessage(); sm.writeInt(9); sm.writeString("x"); p.send(sm);
            ObjectMessage om = s.createObjectMessage((Serializable) "an object"); p.send(om);
            MessageConsumer mc = s.createConsumer(q);
            Message m = mc.receive(5000);
            require(m instanceof TextMessage, "a TextMessage arrived as " + m);
            require(m.getBooleanProperty("b") && m.getByteProperty("y") == -3 && m.getShortProperty("s") == 300
                && m.getIntProperty("i") == 70000 && m.getLongProperty("l") == 1L << 40 && m.getFloatProperty("f") == 1.5f
                && m.getDoubleProperty("d") == 2.25 && "v".equals(m.getStringProperty("str")), "properties changed type or value");
            m = mc.receive(5000);
            require(m instanceof BytesMessage && ((BytesMessage) m).getBodyLength() == 3, "BytesMessage: " + m);
            m = mc.receive(5000);
            require(m instanceof MapMessage && ((MapMessage) m).getInt("n") == 7 && "v".equals(((MapMessage) m).getString("k")), "MapMessage: " + m);
            m = mc.receive(5000);
            require(m instanceof StreamMessage && ((StreamMessage) m).readInt() == 9 && "x".equals(((StreamMessage) m).readString()), "StreamMessage: " + m);
            m = mc.receive(5000);
            require(m instanceof ObjectMessage, "ObjectMessage arrived as " + m);
        } finally { c.close(); }
    }

    static void prefetch0() throws Exception {
        Connection c = connection("?jms.prefetchPolicy.all=0", null);
        try {
            Session s = c.createSession(false, Session.AUTO_ACKNOWLEDGE);
            Queue q = s.createQueue(name);
            MessageConsumer mc = s.createConsumer(q);
            long start = System.currentTimeMillis();
            require(mc.receive(300) == null, "a message out of an empty queue");
            require(System.currentTimeMillis() - start < 3000, "receive(300) on an empty queue took " + (System.currentTimeMillis() - start) + " ms");
            s.createProducer(q).send(s.createTextMessage("pulled"));
            require(mc.receive(5000) != null, "the pulled message did not arrive");
        } finally { c.close(); }
    }

    static void interopSend(String body) throws Exception {
        Connection c = connection();
        try {
            Session s = c.createSession(false, Session.AUTO_ACKNOWLEDGE);
            s.createProducer(s.createTopic(name)).send(s.createTextMessage(body));
        } finally { c.close(); }
    }

    static void interopRecv() throws Exception {
        Connection c = connection();
        try {
            Session s = c.createSession(false, Session.AUTO_ACKNOWLEDGE);
            MessageConsumer mc = s.createConsumer(s.createTopic(name));
            System.out.println("READY");
            System.out.flush();
            Message m = mc.receive(15000);
            require(m != null, "nothing received");
            String body;
            if (m instanceof TextMessage) body = ((TextMessage) m).getText();
            else if (m instanceof BytesMessage) {
                byte[] b = new byte[(int) ((BytesMessage) m).getBodyLength()];
                ((BytesMessage) m).readBytes(b);
                body = new String(b, "UTF-8");
            } else body = m.toString();
            System.out.println("BODY " + body);
        } finally { c.close(); }
    }
}
