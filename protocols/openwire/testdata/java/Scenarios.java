// Scenarios drives Junction's OpenWire server with the real ActiveMQ JMS
// client. The Go tests compile it once and run it with the broker URL and
// the scenarios to run:
//
//   java Scenarios tcp://127.0.0.1:PORT queue topic durable ...
//
// A scenario may carry arguments after colons (send:QUEUE:TEXT). Each one
// prints "PASS name" or "FAIL name: reason"; lines starting with "OUT "
// carry values the Go side checks (cross-protocol tests). Every wait is
// bounded so that a broker that does not answer fails the scenario rather
// than hanging the test.

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Enumeration;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

import javax.jms.BytesMessage;
import javax.jms.Connection;
import javax.jms.DeliveryMode;
import javax.jms.Destination;
import javax.jms.JMSException;
import javax.jms.JMSSecurityException;
import javax.jms.MapMessage;
import javax.jms.Message;
import javax.jms.MessageConsumer;
import javax.jms.MessageProducer;
import javax.jms.ObjectMessage;
import javax.jms.Queue;
import javax.jms.QueueBrowser;
import javax.jms.Session;
import javax.jms.StreamMessage;
import javax.jms.TemporaryQueue;
import javax.jms.TextMessage;
import javax.jms.Topic;
import javax.jms.TopicSubscriber;

import org.apache.activemq.ActiveMQConnection;
import org.apache.activemq.ActiveMQConnectionFactory;
import org.apache.activemq.advisory.ConsumerEvent;
import org.apache.activemq.advisory.ConsumerEventSource;
import org.apache.activemq.command.ActiveMQMessage;
import org.apache.activemq.command.ConnectionId;
import org.apache.activemq.command.ConnectionInfo;
import org.apache.activemq.command.ConsumerInfo;
import org.apache.activemq.command.DataStructure;
import org.apache.activemq.command.RemoveInfo;
import org.apache.activemq.ActiveMQSession;

public class Scenarios {
    static final long WAIT = 5000;
    static String url;

    public static void main(String[] args) throws Exception {
        url = args[0];
        int failed = 0;
        for (int i = 1; i < args.length; i++) {
            String[] parts = args[i].split(":", -1);
            String name = parts[0];
            String[] a = Arrays.copyOfRange(parts, 1, parts.length);
            long t0 = System.currentTimeMillis();
            try {
                run(name, a);
                System.out.println("PASS " + args[i]);
                System.err.println("took " + args[i] + " " + (System.currentTimeMillis() - t0) + " ms");
            } catch (Throwable e) {
                failed++;
                String msg = e.toString().replace('\n', ' ');
                if (e.getCause() != null) {
                    msg += " (cause: " + e.getCause().toString().replace('\n', ' ') + ")";
                }
                System.out.println("FAIL " + args[i] + ": " + msg);
            }
            System.out.flush();
        }
        System.exit(failed == 0 ? 0 : 1);
    }

    static void run(String name, String[] a) throws Exception {
        switch (name) {
            case "queue": queue(); break;
            case "topic": topic(); break;
            case "durable": durable(); break;
            case "selector": selector(); break;
            case "tx": tx(); break;
            case "clientack": clientAck(); break;
            case "individual": individual(); break;
            case "dupsok": dupsOK(); break;
            case "types": types(); break;
            case "tempqueue": tempQueue(); break;
            case "browser": browser(); break;
            case "pagedbrowse": pagedBrowse(a[0], Integer.parseInt(a[1])); break;
            case "priority": priority(); break;
            case "ttl": ttl(); break;
            case "scheduled": scheduled(); break;
            case "groups": groups(); break;
            case "prefetch0": prefetch0(); break;
            case "asyncwindow": asyncWindow(); break;
            case "exclusive": exclusive(); break;
            case "consumerpriority": consumerPriority(); break;
            case "consumeradvisory": consumerAdvisory(); break;
            case "connectionadvisory": connectionAdvisory(); break;
            case "blocked": blocked(a[0]); break;
            case "poison": poison(a[0], a[1]); break;
            case "closedbybroker": closedByBroker(a[0]); break;
            case "badlogin": badLogin(a[0], a[1]); break;
            case "denied": denied(a[0], a[1], a[2], a[3]); break;
            case "send": send(a[0], a[1], a.length > 2 ? a[2] : "text"); break;
            case "recv": recv(a[0], a.length > 1 ? a[1] : "queue"); break;
            case "failover": failover(a[0]); break;
            default: throw new IllegalArgumentException("unknown scenario " + name);
        }
    }

    static Connection connect() throws JMSException { return connect(url); }

    static Connection connect(String u) throws JMSException {
        ActiveMQConnectionFactory f = new ActiveMQConnectionFactory(u);
        f.setTrustAllPackages(true); // ObjectMessage bodies of java.util classes
        Connection c = f.createConnection();
        c.start();
        return c;
    }

    static void check(boolean ok, String what) {
        if (!ok) throw new AssertionError(what);
    }

    static void eq(Object want, Object got, String what) {
        if (want == null ? got != null : !want.equals(got)) {
            throw new AssertionError(what + ": got " + got + ", want " + want);
        }
    }

    static Message must(MessageConsumer c, String what) throws JMSException {
        Message m = c.receive(WAIT);
        if (m == null) throw new AssertionError("no message: " + what);
        return m;
    }

    static void none(MessageConsumer c, long wait, String what) throws JMSException {
        Message m = wait == 0 ? c.receiveNoWait() : c.receive(wait);
        if (m != null) throw new AssertionError("unexpected message (" + what + "): " + m);
    }

    static String text(Message m) throws JMSException { return ((TextMessage) m).getText(); }

    // queue: persistent and non-persistent sends arrive in order, with
    // their headers.
    static void queue() throws Exception {
        Connection c = connect();
        try {
            Session s = c.createSession(false, Session.AUTO_ACKNOWLEDGE);
            Queue q = s.createQueue("ow.queue");
            MessageProducer p = s.createProducer(q);
            List<String> ids = new ArrayList<>();
            for (int i = 0; i < 20; i++) {
                p.setDeliveryMode(i % 2 == 0 ? DeliveryMode.PERSISTENT : DeliveryMode.NON_PERSISTENT);
                TextMessage m = s.createTextMessage("m" + i);
                m.setJMSCorrelationID("corr-" + i);
                m.setJMSType("kind" + i);
                m.setIntProperty("n", i);
                p.send(m);
                ids.add(m.getJMSMessageID());
            }
            MessageConsumer mc = s.createConsumer(q);
            for (int i = 0; i < 20; i++) {
                Message m = must(mc, "m" + i);
                eq("m" + i, text(m), "body");
                eq(ids.get(i), m.getJMSMessageID(), "JMSMessageID");
                eq("corr-" + i, m.getJMSCorrelationID(), "JMSCorrelationID");
                eq("kind" + i, m.getJMSType(), "JMSType");
                eq(i, m.getIntProperty("n"), "property n");
                eq(i % 2 == 0 ? DeliveryMode.PERSISTENT : DeliveryMode.NON_PERSISTENT, m.getJMSDeliveryMode(), "delivery mode");
                eq("queue://ow.queue", m.getJMSDestination().toString(), "destination");
                check(!m.getJMSRedelivered(), "not redelivered");
                eq(1, m.getIntProperty("JMSXDeliveryCount"), "JMSXDeliveryCount");
            }
            none(mc, 100, "queue drained");
        } finally {
            c.close();
        }
    }

    // topic: every subscriber gets every message; wildcards match.
    static void topic() throws Exception {
        Connection c = connect();
        try {
            Session s = c.createSession(false, Session.AUTO_ACKNOWLEDGE);
            Topic t = s.createTopic("ow.topic.a");
            MessageConsumer c1 = s.createConsumer(t);
            MessageConsumer c2 = s.createConsumer(s.createTopic("ow.topic.*"));
            MessageConsumer c3 = s.createConsumer(s.createTopic("ow.>"));
            MessageProducer p = s.createProducer(t);
            for (int i = 0; i < 5; i++) p.send(s.createTextMessage("t" + i));
            for (MessageConsumer mc : new MessageConsumer[] {c1, c2, c3}) {
                for (int i = 0; i < 5; i++) eq("t" + i, text(must(mc, "t" + i)), "body");
                none(mc, 50, "topic drained");
            }
            // noLocal: the connection's own messages are skipped, another's arrive.
            MessageConsumer nl = s.createConsumer(s.createTopic("ow.nolocal"), null, true);
            s.createProducer(s.createTopic("ow.nolocal")).send(s.createTextMessage("own"));
            Connection other = connect();
            try {
                Session os = other.createSession(false, Session.AUTO_ACKNOWLEDGE);
                os.createProducer(os.createTopic("ow.nolocal")).send(os.createTextMessage("theirs"));
            } finally {
                other.close();
            }
            eq("theirs", text(must(nl, "another connection's message")), "noLocal");
            none(nl, 100, "own message skipped");
            // Composite destination: one send reaches a queue and a topic.
            MessageConsumer cq = s.createConsumer(s.createQueue("ow.comp.q"));
            MessageConsumer ct = s.createConsumer(s.createTopic("ow.comp.t"));
            s.createProducer(s.createQueue("ow.comp.q,topic://ow.comp.t")).send(s.createTextMessage("both"));
            eq("both", text(must(cq, "composite queue")), "composite queue");
            eq("both", text(must(ct, "composite topic")), "composite topic");
        } finally {
            c.close();
        }
    }

    // durable: a durable subscriber gets what was published while it was away.
    static void durable() throws Exception {
        Connection c = new ActiveMQConnectionFactory(url).createConnection();
        c.setClientID("ow-durable-client");
        c.start();
        try {
            Session s = c.createSession(false, Session.AUTO_ACKNOWLEDGE);
            Topic t = s.createTopic("ow.durable");
            TopicSubscriber sub = s.createDurableSubscriber(t, "sub1");
            MessageProducer p = s.createProducer(t);
            p.send(s.createTextMessage("before"));
            eq("before", text(must(sub, "before")), "body");
            sub.close();
            for (int i = 0; i < 3; i++) p.send(s.createTextMessage("away" + i));
            sub = s.createDurableSubscriber(t, "sub1");
            for (int i = 0; i < 3; i++) eq("away" + i, text(must(sub, "away" + i)), "body");
            sub.close();
            s.unsubscribe("sub1");
            p.send(s.createTextMessage("after"));
            sub = s.createDurableSubscriber(t, "sub1");
            none(sub, 200, "nothing kept after unsubscribe");
            sub.close();
            s.unsubscribe("sub1");
        } finally {
            c.close();
        }
        // The same client id connects again at once after a close, and its
        // durable subscription is free to reattach.
        for (int round = 0; round < 3; round++) {
            Connection again = new ActiveMQConnectionFactory(url).createConnection();
            again.setClientID("ow-durable-client");
            again.start();
            try {
                Session s = again.createSession(false, Session.AUTO_ACKNOWLEDGE);
                Topic t = s.createTopic("ow.durable");
                TopicSubscriber sub = s.createDurableSubscriber(t, "sub-again");
                s.createProducer(t).send(s.createTextMessage("round" + round));
                eq("round" + round, text(must(sub, "round " + round)), "reattached durable subscription");
            } finally {
                again.close();
            }
        }
        // A second connection with the same client id is refused.
        Connection c1 = new ActiveMQConnectionFactory(url).createConnection();
        c1.setClientID("ow-dup");
        c1.start();
        try {
            Connection c2 = new ActiveMQConnectionFactory(url).createConnection();
            try {
                c2.setClientID("ow-dup");
                c2.start();
                throw new AssertionError("duplicate client id accepted");
            } catch (javax.jms.InvalidClientIDException expected) {
            } finally {
                try { c2.close(); } catch (JMSException ignored) {}
            }
        } finally {
            c1.close();
        }
    }

    static void selector() throws Exception {
        Connection c = connect();
        try {
            Session s = c.createSession(false, Session.AUTO_ACKNOWLEDGE);
            Queue q = s.createQueue("ow.selector");
            MessageProducer p = s.createProducer(q);
            String[] colors = {"red", "blue", "red", "green"};
            for (int i = 0; i < colors.length; i++) {
                TextMessage m = s.createTextMessage("s" + i);
                m.setStringProperty("color", colors[i]);
                m.setIntProperty("weight", i * 10);
                p.send(m);
            }
            MessageConsumer red = s.createConsumer(q, "color = 'red' AND weight >= 0");
            eq("s0", text(must(red, "red 0")), "first red");
            eq("s2", text(must(red, "red 2")), "second red");
            none(red, 100, "no more red");
            red.close();
            MessageConsumer heavy = s.createConsumer(q, "weight > 15");
            eq("s3", text(must(heavy, "heavy")), "heavy");
            heavy.close();
            MessageConsumer rest = s.createConsumer(q);
            eq("s1", text(must(rest, "rest")), "rest");
            none(rest, 100, "drained");
            // destroyDestination deletes a queue with its messages.
            Queue doomed = s.createQueue("ow.destroyed");
            s.createProducer(doomed).send(s.createTextMessage("gone"));
            ((org.apache.activemq.ActiveMQConnection) c).destroyDestination((org.apache.activemq.command.ActiveMQDestination) doomed);
            none(s.createConsumer(doomed), 200, "destroyed queue is empty");
        } finally {
            c.close();
        }
    }

    // tx: transacted sends appear at commit only; a rolled back receive
    // comes again, redelivered, and a commit consumes it.
    static void tx() throws Exception {
        Connection c = connect();
        try {
            Session ts = c.createSession(true, Session.SESSION_TRANSACTED);
            Session s = c.createSession(false, Session.AUTO_ACKNOWLEDGE);
            Queue q = s.createQueue("ow.tx");
            MessageProducer tp = ts.createProducer(q);
            MessageConsumer watch = s.createConsumer(q);
            tp.send(ts.createTextMessage("rolled"));
            ts.rollback();
            tp.send(ts.createTextMessage("c1"));
            tp.send(ts.createTextMessage("c2"));
            none(watch, 200, "nothing before commit");
            ts.commit();
            watch.close();
            MessageConsumer tc = ts.createConsumer(q);
            Message m1 = must(tc, "c1");
            eq("c1", text(m1), "first");
            check(!m1.getJMSRedelivered(), "c1 not redelivered at first");
            eq("c2", text(must(tc, "c2")), "second");
            ts.rollback();
            Message r1 = must(tc, "c1 again");
            eq("c1", text(r1), "redelivered first");
            check(r1.getJMSRedelivered(), "JMSRedelivered after rollback");
            eq(2, r1.getIntProperty("JMSXDeliveryCount"), "JMSXDeliveryCount after rollback");
            eq("c2", text(must(tc, "c2 again")), "redelivered second");
            ts.commit();
            tc.close();
            MessageConsumer after = s.createConsumer(q);
            none(after, 200, "consumed by commit");
        } finally {
            c.close();
        }
    }

    static void clientAck() throws Exception {
        Connection c = connect();
        try {
            Session s = c.createSession(false, Session.CLIENT_ACKNOWLEDGE);
            Queue q = s.createQueue("ow.clientack");
            MessageProducer p = s.createProducer(q);
            for (int i = 0; i < 5; i++) p.send(s.createTextMessage("a" + i));
            MessageConsumer mc = s.createConsumer(q);
            Message last = null;
            for (int i = 0; i < 3; i++) last = must(mc, "a" + i);
            last.acknowledge(); // acknowledges a0..a2
            eq("a3", text(must(mc, "a3")), "a3");
            mc.close(); // a3 unacknowledged, a4 prefetched
            s.close();
            Session s2 = c.createSession(false, Session.CLIENT_ACKNOWLEDGE);
            MessageConsumer mc2 = s2.createConsumer(q);
            Message m3 = must(mc2, "a3 again");
            eq("a3", text(m3), "a3 comes back");
            check(m3.getJMSRedelivered(), "a3 redelivered");
            Message m4 = must(mc2, "a4");
            eq("a4", text(m4), "a4");
            // recover: the unacknowledged messages come again, redelivered.
            s2.recover();
            Message r3 = must(mc2, "a3 after recover");
            eq("a3", text(r3), "a3 after recover");
            check(r3.getJMSRedelivered(), "a3 redelivered after recover");
            Message r4 = must(mc2, "a4 after recover");
            eq("a4", text(r4), "a4 after recover");
            r4.acknowledge();
            none(mc2, 100, "drained");
            mc2.close();
            none(s2.createConsumer(q), 200, "nothing left after the acknowledgement");
        } finally {
            c.close();
        }
    }

    static void individual() throws Exception {
        Connection c = connect();
        try {
            Session s = c.createSession(false, ActiveMQSession.INDIVIDUAL_ACKNOWLEDGE);
            Queue q = s.createQueue("ow.individual");
            MessageProducer p = s.createProducer(q);
            for (int i = 0; i < 3; i++) p.send(s.createTextMessage("i" + i));
            MessageConsumer mc = s.createConsumer(q);
            must(mc, "i0");
            Message m1 = must(mc, "i1");
            must(mc, "i2");
            m1.acknowledge();
            mc.close();
            MessageConsumer mc2 = s.createConsumer(q);
            Message a = must(mc2, "i0 again");
            Message b = must(mc2, "i2 again");
            eq("i0", text(a), "i0 back");
            eq("i2", text(b), "i2 back");
            a.acknowledge();
            b.acknowledge();
            none(mc2, 100, "drained");
        } finally {
            c.close();
        }
    }

    // dupsok: DUPS_OK_ACKNOWLEDGE acknowledges in batches (ranges); with a
    // small prefetch every message still arrives, and a listener gets them
    // all too.
    static void dupsOK() throws Exception {
        Connection c = connect(url + (url.contains("?") ? "&" : "?") + "jms.prefetchPolicy.queuePrefetch=10");
        try {
            Session s = c.createSession(false, Session.DUPS_OK_ACKNOWLEDGE);
            Queue q = s.createQueue("ow.dupsok");
            MessageProducer p = s.createProducer(q);
            for (int i = 0; i < 60; i++) p.send(s.createTextMessage("d" + i));
            MessageConsumer mc = s.createConsumer(q);
            for (int i = 0; i < 30; i++) eq("d" + i, text(must(mc, "d" + i)), "dups-ok order");
            mc.close();
            Session ls = c.createSession(false, Session.AUTO_ACKNOWLEDGE);
            final java.util.concurrent.CountDownLatch all = new java.util.concurrent.CountDownLatch(30);
            final Set<String> got = java.util.concurrent.ConcurrentHashMap.newKeySet();
            MessageConsumer lc = ls.createConsumer(q);
            lc.setMessageListener(m -> {
                try {
                    if (got.add(((TextMessage) m).getText())) all.countDown();
                } catch (JMSException e) {
                    throw new RuntimeException(e);
                }
            });
            check(all.await(WAIT, java.util.concurrent.TimeUnit.MILLISECONDS), "listener got " + got.size() + " of 30");
            lc.close();
            check(got.contains("d30") && got.contains("d59"), "listener got the rest: " + got);
            none(ls.createConsumer(q), 200, "drained");
        } finally {
            c.close();
        }
    }

    static void setAll(Message m) throws JMSException {
        m.setBooleanProperty("pBool", true);
        m.setByteProperty("pByte", (byte) -7);
        m.setShortProperty("pShort", (short) 1234);
        m.setIntProperty("pInt", -123456);
        m.setLongProperty("pLong", 1L << 40);
        m.setFloatProperty("pFloat", 1.5f);
        m.setDoubleProperty("pDouble", -2.25);
        m.setStringProperty("pString", "h\u00e9llo");
        m.setObjectProperty("pObj", Integer.valueOf(42));
    }

    static void checkAll(Message m) throws JMSException {
        eq(true, m.getObjectProperty("pBool"), "bool property");
        eq((byte) -7, m.getObjectProperty("pByte"), "byte property");
        eq((short) 1234, m.getObjectProperty("pShort"), "short property");
        eq(-123456, m.getObjectProperty("pInt"), "int property");
        eq(1L << 40, m.getObjectProperty("pLong"), "long property");
        eq(1.5f, m.getObjectProperty("pFloat"), "float property");
        eq(-2.25, m.getObjectProperty("pDouble"), "double property");
        eq("h\u00e9llo", m.getObjectProperty("pString"), "string property");
        eq(42, m.getObjectProperty("pObj"), "object property");
    }

    // types: every message type, each with every property type.
    static void types() throws Exception {
        Connection c = connect();
        try {
            Session s = c.createSession(false, Session.AUTO_ACKNOWLEDGE);
            Queue q = s.createQueue("ow.types");
            MessageProducer p = s.createProducer(q);
            Message plain = s.createMessage();
            TextMessage tm = s.createTextMessage("text \u20ac");
            BytesMessage bm = s.createBytesMessage();
            bm.writeBytes(new byte[] {0, 1, 2, (byte) 255});
            MapMessage mm = s.createMapMessage();
            mm.setString("s", "v");
            mm.setInt("i", 7);
            mm.setLong("l", -9L);
            mm.setDouble("d", 0.5);
            mm.setBoolean("b", true);
            mm.setBytes("y", new byte[] {9, 8});
            mm.setShort("sh", (short) 3);
            mm.setChar("c", 'x');
            StreamMessage sm = s.createStreamMessage();
            sm.writeString("one");
            sm.writeInt(2);
            sm.writeBoolean(false);
            sm.writeDouble(3.5);
            ObjectMessage om = s.createObjectMessage(new ArrayList<>(Arrays.asList("x", "y")));
            Message[] all = {plain, tm, bm, mm, sm, om};
            for (Message m : all) {
                setAll(m);
                p.send(m);
            }
            MessageConsumer mc = s.createConsumer(q);
            Message r = must(mc, "plain");
            check(!(r instanceof TextMessage) && !(r instanceof BytesMessage), "plain message type: " + r.getClass());
            checkAll(r);
            r = must(mc, "text");
            eq("text \u20ac", text(r), "text body");
            checkAll(r);
            r = must(mc, "bytes");
            check(r instanceof BytesMessage, "bytes message type: " + r.getClass());
            BytesMessage rb = (BytesMessage) r;
            byte[] buf = new byte[10];
            eq(4, rb.readBytes(buf), "bytes length");
            eq((byte) 255, buf[3], "bytes content");
            checkAll(r);
            r = must(mc, "map");
            check(r instanceof MapMessage, "map message type: " + r.getClass());
            MapMessage rm = (MapMessage) r;
            eq("v", rm.getString("s"), "map s");
            eq(7, rm.getInt("i"), "map i");
            eq(-9L, rm.getLong("l"), "map l");
            eq(0.5, rm.getDouble("d"), "map d");
            eq(true, rm.getBoolean("b"), "map b");
            eq(2, rm.getBytes("y").length, "map y");
            eq((short) 3, rm.getShort("sh"), "map sh");
            eq('x', rm.getChar("c"), "map c");
            checkAll(r);
            r = must(mc, "stream");
            check(r instanceof StreamMessage, "stream message type: " + r.getClass());
            StreamMessage rs = (StreamMessage) r;
            eq("one", rs.readString(), "stream 1");
            eq(2, rs.readInt(), "stream 2");
            eq(false, rs.readBoolean(), "stream 3");
            eq(3.5, rs.readDouble(), "stream 4");
            checkAll(r);
            r = must(mc, "object");
            check(r instanceof ObjectMessage, "object message type: " + r.getClass());
            eq(Arrays.asList("x", "y"), ((ObjectMessage) r).getObject(), "object body");
            checkAll(r);
        } finally {
            c.close();
        }
    }

    // tempqueue: request/reply through a temporary queue created by the
    // requester and used by a responder on another connection (which learns
    // of it from the temp-destination advisories).
    static void tempQueue() throws Exception {
        Connection server = connect();
        Connection client = connect();
        try {
            Session ss = server.createSession(false, Session.AUTO_ACKNOWLEDGE);
            MessageConsumer requests = ss.createConsumer(ss.createQueue("ow.service"));
            MessageProducer replies = ss.createProducer(null);
            Session cs = client.createSession(false, Session.AUTO_ACKNOWLEDGE);
            TemporaryQueue tq = cs.createTemporaryQueue();
            MessageConsumer replyConsumer = cs.createConsumer(tq);
            TextMessage req = cs.createTextMessage("ping");
            req.setJMSReplyTo(tq);
            req.setJMSCorrelationID("c-1");
            cs.createProducer(cs.createQueue("ow.service")).send(req);
            Message got = must(requests, "request");
            eq(tq.toString(), got.getJMSReplyTo().toString(), "reply-to");
            TextMessage rep = ss.createTextMessage("pong");
            rep.setJMSCorrelationID(got.getJMSCorrelationID());
            // Sending to a temp queue needs the advisory: the client refuses
            // one it has not heard of. The advisory may trail the request.
            long deadline = System.currentTimeMillis() + WAIT;
            while (true) {
                try {
                    replies.send(got.getJMSReplyTo(), rep);
                    break;
                } catch (javax.jms.InvalidDestinationException e) {
                    if (System.currentTimeMillis() > deadline) throw e;
                    Thread.sleep(20);
                }
            }
            Message reply = must(replyConsumer, "reply");
            eq("pong", text(reply), "reply body");
            eq("c-1", reply.getJMSCorrelationID(), "reply correlation");
            // A connection opened after the temporary queue hears of it
            // from the advisories replayed to new subscribers.
            Connection late = connect();
            try {
                Session ls = late.createSession(false, Session.AUTO_ACKNOWLEDGE);
                MessageProducer lp = ls.createProducer(null);
                long until = System.currentTimeMillis() + WAIT;
                while (true) {
                    try {
                        lp.send(tq, ls.createTextMessage("late"));
                        break;
                    } catch (javax.jms.InvalidDestinationException e) {
                        if (System.currentTimeMillis() > until) throw e;
                        Thread.sleep(20);
                    }
                }
                eq("late", text(must(replyConsumer, "from the late connection")), "late reply");
            } finally {
                late.close();
            }
            // A temporary topic works the same way.
            javax.jms.TemporaryTopic tt = cs.createTemporaryTopic();
            MessageConsumer topicConsumer = cs.createConsumer(tt);
            long until = System.currentTimeMillis() + WAIT;
            while (true) {
                try {
                    replies.send(tt, ss.createTextMessage("to the temp topic"));
                    break;
                } catch (javax.jms.InvalidDestinationException e) {
                    if (System.currentTimeMillis() > until) throw e;
                    Thread.sleep(20);
                }
            }
            eq("to the temp topic", text(must(topicConsumer, "temp topic")), "temp topic");
            topicConsumer.close();
            tt.delete();
            replyConsumer.close();
            tq.delete();
            // Once deleted, the responder learns that too.
            deadline = System.currentTimeMillis() + WAIT;
            while (true) {
                try {
                    replies.send(got.getJMSReplyTo(), rep);
                } catch (javax.jms.InvalidDestinationException e) {
                    break;
                }
                if (System.currentTimeMillis() > deadline) throw new AssertionError("deleted temp queue still accepted");
                Thread.sleep(20);
            }
        } finally {
            client.close();
            server.close();
        }
    }

    static void browser() throws Exception {
        Connection c = connect();
        try {
            Session s = c.createSession(false, Session.AUTO_ACKNOWLEDGE);
            Queue q = s.createQueue("ow.browse");
            MessageProducer p = s.createProducer(q);
            for (int i = 0; i < 3; i++) {
                TextMessage m = s.createTextMessage("b" + i);
                m.setIntProperty("i", i);
                p.send(m);
            }
            for (int pass = 0; pass < 2; pass++) {
                QueueBrowser br = s.createBrowser(q);
                Enumeration<?> e = br.getEnumeration();
                List<String> seen = new ArrayList<>();
                while (e.hasMoreElements()) seen.add(text((Message) e.nextElement()));
                eq(Arrays.asList("b0", "b1", "b2"), seen, "browsed");
                br.close();
            }
            QueueBrowser sel = s.createBrowser(q, "i = 1");
            Enumeration<?> e = sel.getEnumeration();
            check(e.hasMoreElements(), "selector browse finds one");
            eq("b1", text((Message) e.nextElement()), "selector browse");
            check(!e.hasMoreElements(), "selector browse finds only one");
            sel.close();
            MessageConsumer mc = s.createConsumer(q);
            for (int i = 0; i < 3; i++) eq("b" + i, text(must(mc, "b" + i)), "still there");
        } finally {
            c.close();
        }
    }

    // pagedBrowse sends n persistent ~1 KiB messages to a queue whose address
    // pages past a small budget, browses them all in order (the paged tail
    // too), then consumes them all in order: the browser took none.
    static void pagedBrowse(String queue, int n) throws Exception {
        Connection c = connect();
        try {
            Session s = c.createSession(false, Session.AUTO_ACKNOWLEDGE);
            Queue q = s.createQueue(queue);
            MessageProducer p = s.createProducer(q);
            p.setDeliveryMode(DeliveryMode.PERSISTENT);
            StringBuilder pad = new StringBuilder();
            for (int i = 0; i < 1000; i++) pad.append('p');
            for (int i = 0; i < n; i++) p.send(s.createTextMessage(String.format("%05d", i) + pad));
            QueueBrowser br = s.createBrowser(q);
            Enumeration<?> e = br.getEnumeration();
            int seen = 0;
            while (e.hasMoreElements()) {
                String t = text((Message) e.nextElement());
                eq(String.format("%05d", seen), t.substring(0, 5), "browsed message " + seen);
                seen++;
            }
            eq(n, seen, "messages browsed");
            br.close();
            System.out.println("OUT browsed " + seen);
            MessageConsumer mc = s.createConsumer(q);
            for (int i = 0; i < n; i++) eq(String.format("%05d", i), text(must(mc, "message " + i)).substring(0, 5), "consumed");
        } finally {
            c.close();
        }
    }

    static void priority() throws Exception {
        Connection c = connect();
        try {
            Session s = c.createSession(false, Session.AUTO_ACKNOWLEDGE);
            Queue q = s.createQueue("ow.priority");
            MessageProducer p = s.createProducer(q);
            int[] prios = {1, 9, 4, 7, 0};
            for (int pr : prios) p.send(s.createTextMessage("p" + pr), DeliveryMode.PERSISTENT, pr, 0);
            MessageConsumer mc = s.createConsumer(q);
            for (int pr : new int[] {9, 7, 4, 1, 0}) {
                Message m = must(mc, "p" + pr);
                eq("p" + pr, text(m), "priority order");
                eq(pr, m.getJMSPriority(), "JMSPriority");
            }
        } finally {
            c.close();
        }
    }

    static void ttl() throws Exception {
        Connection c = connect();
        try {
            Session s = c.createSession(false, Session.AUTO_ACKNOWLEDGE);
            Queue q = s.createQueue("ow.ttl");
            MessageProducer p = s.createProducer(q);
            p.send(s.createTextMessage("short"), DeliveryMode.NON_PERSISTENT, 4, 100);
            TextMessage keep = s.createTextMessage("long");
            p.send(keep, DeliveryMode.NON_PERSISTENT, 4, 60000);
            check(keep.getJMSExpiration() > 0, "expiration set");
            Thread.sleep(300);
            MessageConsumer mc = s.createConsumer(q);
            Message m = must(mc, "long");
            eq("long", text(m), "the expired message is gone");
            eq(keep.getJMSExpiration(), m.getJMSExpiration(), "JMSExpiration");
            none(mc, 100, "drained");
        } finally {
            c.close();
        }
    }

    // scheduled: AMQ_SCHEDULED_DELAY holds a message back for its delay.
    static void scheduled() throws Exception {
        Connection c = connect();
        try {
            Session s = c.createSession(false, Session.AUTO_ACKNOWLEDGE);
            Queue q = s.createQueue("ow.scheduled");
            MessageConsumer mc = s.createConsumer(q);
            TextMessage m = s.createTextMessage("later");
            m.setLongProperty("AMQ_SCHEDULED_DELAY", 700);
            long t0 = System.currentTimeMillis();
            s.createProducer(q).send(m);
            none(mc, 200, "before the delay");
            eq("later", text(must(mc, "after the delay")), "scheduled body");
            long took = System.currentTimeMillis() - t0;
            check(took >= 600, "delivered after " + took + " ms, before its 700 ms delay");
        } finally {
            c.close();
        }
    }

    static void groups() throws Exception {
        Connection c = connect();
        try {
            Session s = c.createSession(false, Session.AUTO_ACKNOWLEDGE);
            Queue q = s.createQueue("ow.groups");
            MessageConsumer c1 = s.createConsumer(q);
            MessageConsumer c2 = s.createConsumer(q);
            MessageProducer p = s.createProducer(q);
            for (int i = 0; i < 10; i++) {
                TextMessage m = s.createTextMessage("g" + i);
                m.setStringProperty("JMSXGroupID", i % 2 == 0 ? "A" : "B");
                m.setIntProperty("JMSXGroupSeq", i / 2 + 1);
                p.send(m);
            }
            Map<String, Set<Integer>> owner = new HashMap<>();
            int got = 0;
            long deadline = System.currentTimeMillis() + WAIT;
            while (got < 10 && System.currentTimeMillis() < deadline) {
                MessageConsumer[] cs = {c1, c2};
                for (int k = 0; k < 2; k++) {
                    Message m = cs[k].receive(50);
                    if (m == null) continue;
                    got++;
                    String g = m.getStringProperty("JMSXGroupID");
                    owner.computeIfAbsent(g, x -> new HashSet<>()).add(k);
                    check(m.getIntProperty("JMSXGroupSeq") >= 1, "JMSXGroupSeq kept");
                }
            }
            eq(10, got, "messages received");
            eq(1, owner.get("A").size(), "group A on one consumer");
            eq(1, owner.get("B").size(), "group B on one consumer");
        } finally {
            c.close();
        }
    }

    // prefetch0: consumers that pull each message; a pull with a timeout
    // returns null when nothing comes, without hanging.
    static void prefetch0() throws Exception {
        Connection c = connect(url + (url.contains("?") ? "&" : "?") + "jms.prefetchPolicy.all=0");
        try {
            Session s = c.createSession(false, Session.AUTO_ACKNOWLEDGE);
            Queue q = s.createQueue("ow.pull");
            MessageConsumer mc = s.createConsumer(q);
            long t0 = System.currentTimeMillis();
            none(mc, 300, "empty queue, timed pull");
            long took = System.currentTimeMillis() - t0;
            check(took >= 250 && took < 3000, "timed pull took " + took + " ms");
            none(mc, 0, "empty queue, receiveNoWait");
            MessageProducer p = s.createProducer(q);
            for (int i = 0; i < 3; i++) p.send(s.createTextMessage("z" + i));
            // A second consumer with prefetch 0 must not have taken anything.
            MessageConsumer other = s.createConsumer(q);
            eq("z0", text(must(mc, "z0")), "pull 1");
            eq("z1", text(other.receive(WAIT)), "pull by the other consumer");
            Message m = mc.receiveNoWait();
            long until = System.currentTimeMillis() + WAIT;
            while (m == null && System.currentTimeMillis() < until) m = mc.receive(100);
            check(m != null, "pull 3");
            eq("z2", text(m), "pull 3");
            // receive() without a timeout waits for a message sent later.
            final Session ps = c.createSession(false, Session.AUTO_ACKNOWLEDGE);
            Thread later = new Thread(() -> {
                try {
                    Thread.sleep(200);
                    ps.createProducer(ps.createQueue("ow.pull")).send(ps.createTextMessage("late"));
                } catch (Exception e) {
                    e.printStackTrace();
                }
            });
            later.start();
            eq("late", text(must(mc, "late")), "blocking pull");
            later.join();
        } finally {
            c.close();
        }
    }

    // exclusive: while a consumer made with consumer.exclusive=true is
    // attached it alone receives; when it closes the others take over.
    static void exclusive() throws Exception {
        Connection c = connect();
        try {
            Session s = c.createSession(false, Session.AUTO_ACKNOWLEDGE);
            Queue q = s.createQueue("ow.exclusive");
            MessageConsumer c1 = s.createConsumer(q);
            MessageConsumer cx = s.createConsumer(s.createQueue("ow.exclusive?consumer.exclusive=true"));
            MessageConsumer c2 = s.createConsumer(q);
            MessageProducer p = s.createProducer(q);
            for (int i = 0; i < 10; i++) p.send(s.createTextMessage("x" + i));
            for (int i = 0; i < 10; i++) eq("x" + i, text(must(cx, "x" + i)), "exclusive consumer gets all");
            none(c1, 200, "first plain consumer while the exclusive one is attached");
            none(c2, 0, "second plain consumer while the exclusive one is attached");
            cx.close();
            for (int i = 0; i < 4; i++) p.send(s.createTextMessage("y" + i));
            Set<String> got = new HashSet<>();
            long deadline = System.currentTimeMillis() + WAIT;
            while (got.size() < 4 && System.currentTimeMillis() < deadline) {
                for (MessageConsumer mc : new MessageConsumer[] {c1, c2}) {
                    Message m = mc.receive(50);
                    if (m != null) got.add(text(m));
                }
            }
            eq(4, got.size(), "the plain consumers took over: " + got);
        } finally {
            c.close();
        }
    }

    // consumerpriority: a consumer.priority=9 consumer gets messages while
    // it has prefetch room; the lower one gets the rest.
    static void consumerPriority() throws Exception {
        Connection c = connect();
        try {
            Session s = c.createSession(false, Session.AUTO_ACKNOWLEDGE);
            MessageConsumer low = s.createConsumer(s.createQueue("ow.cprio?consumer.priority=1"));
            MessageConsumer high = s.createConsumer(s.createQueue("ow.cprio?consumer.priority=9&consumer.prefetchSize=2"));
            MessageProducer p = s.createProducer(s.createQueue("ow.cprio"));
            for (int i = 0; i < 5; i++) p.send(s.createTextMessage("p" + i));
            for (int i = 2; i < 5; i++) eq("p" + i, text(must(low, "p" + i)), "low-priority consumer gets the overflow");
            none(low, 100, "low-priority consumer after the overflow");
            eq("p0", text(must(high, "p0")), "high-priority consumer first");
            eq("p1", text(must(high, "p1")), "high-priority consumer second");
            // Room again on the high one: the next message goes there.
            p.send(s.createTextMessage("p5"));
            eq("p5", text(must(high, "p5")), "high-priority consumer with room");
            none(low, 100, "low-priority consumer while the high one has room");
        } finally {
            c.close();
        }
    }

    static ConsumerEvent event(BlockingQueue<ConsumerEvent> events, String what) throws InterruptedException {
        ConsumerEvent e = events.poll(WAIT, TimeUnit.MILLISECONDS);
        if (e == null) throw new AssertionError("no consumer event: " + what);
        return e;
    }

    // consumeradvisory: ActiveMQ's ConsumerEventSource hears of the
    // consumers of a queue (those that existed first, then each start and
    // stop, with the count), and a topic's consumer advisory carries the
    // ConsumerInfo.
    static void consumerAdvisory() throws Exception {
        Connection c = connect();
        try {
            Session s = c.createSession(false, Session.AUTO_ACKNOWLEDGE);
            Queue q = s.createQueue("ow.watched");
            MessageConsumer first = s.createConsumer(q);
            ConsumerEventSource src = new ConsumerEventSource(c, q);
            BlockingQueue<ConsumerEvent> events = new LinkedBlockingQueue<>();
            src.setConsumerListener(events::add);
            src.start();
            ConsumerEvent e = event(events, "existing consumer");
            check(e.isStarted(), "existing consumer: started");
            eq(1, e.getConsumerCount(), "existing consumer: count");
            MessageConsumer second = s.createConsumer(q);
            e = event(events, "second consumer");
            check(e.isStarted(), "second consumer: started");
            eq(2, e.getConsumerCount(), "second consumer: count");
            first.close();
            e = event(events, "first consumer closed");
            check(!e.isStarted(), "first consumer closed: stopped");
            eq(1, e.getConsumerCount(), "first consumer closed: count");
            src.stop();
            second.close();

            MessageConsumer adv = s.createConsumer(s.createTopic("ActiveMQ.Advisory.Consumer.Topic.ow.watchedtopic"));
            MessageConsumer sub = s.createConsumer(s.createTopic("ow.watchedtopic"));
            ActiveMQMessage m = (ActiveMQMessage) must(adv, "topic consumer advisory");
            check(m.getDataStructure() instanceof ConsumerInfo, "advisory carries a ConsumerInfo: " + m.getDataStructure());
            eq("ow.watchedtopic", ((ConsumerInfo) m.getDataStructure()).getDestination().getPhysicalName(), "advised destination");
            eq(1, m.getIntProperty("consumerCount"), "consumerCount");
            sub.close();
            m = (ActiveMQMessage) must(adv, "topic consumer removal advisory");
            check(m.getDataStructure() instanceof RemoveInfo, "removal carries a RemoveInfo: " + m.getDataStructure());
            eq(0, m.getIntProperty("consumerCount"), "consumerCount after removal");
        } finally {
            c.close();
        }
    }

    // connectionadvisory: ActiveMQ.Advisory.Connection replays the open
    // connections (without passwords) and tells of each close.
    static void connectionAdvisory() throws Exception {
        Connection other = connect();
        ConnectionId otherID = ((ActiveMQConnection) other).getConnectionInfo().getConnectionId();
        Connection c = connect();
        try {
            Session s = c.createSession(false, Session.AUTO_ACKNOWLEDGE);
            MessageConsumer adv = s.createConsumer(s.createTopic("ActiveMQ.Advisory.Connection"));
            boolean seen = false;
            long deadline = System.currentTimeMillis() + WAIT;
            while (!seen && System.currentTimeMillis() < deadline) {
                Message m = adv.receive(100);
                if (m == null) continue;
                DataStructure ds = ((ActiveMQMessage) m).getDataStructure();
                if (ds instanceof ConnectionInfo && otherID.equals(((ConnectionInfo) ds).getConnectionId())) {
                    seen = true;
                    String pw = ((ConnectionInfo) ds).getPassword();
                    check(pw == null || pw.isEmpty(), "advised ConnectionInfo without password");
                }
            }
            check(seen, "the open connection was replayed");
            other.close();
            other = null;
            boolean removed = false;
            deadline = System.currentTimeMillis() + WAIT;
            while (!removed && System.currentTimeMillis() < deadline) {
                Message m = adv.receive(100);
                if (m == null) continue;
                DataStructure ds = ((ActiveMQMessage) m).getDataStructure();
                removed = ds instanceof RemoveInfo && otherID.equals(((RemoveInfo) ds).getObjectId());
            }
            check(removed, "the closed connection's RemoveInfo");
        } finally {
            c.close();
            if (other != null) other.close();
        }
    }

    // asyncwindow: async sends with a producer window are flow controlled
    // by ProducerAcks; every message arrives.
    static void asyncWindow() throws Exception {
        Connection c = connect(url + (url.contains("?") ? "&" : "?") + "jms.useAsyncSend=true&jms.producerWindowSize=4096");
        try {
            Session s = c.createSession(false, Session.AUTO_ACKNOWLEDGE);
            Queue q = s.createQueue("ow.window");
            MessageProducer p = s.createProducer(q);
            byte[] body = new byte[1000];
            for (int i = 0; i < 200; i++) {
                BytesMessage m = s.createBytesMessage();
                m.writeBytes(body);
                m.setIntProperty("i", i);
                p.send(m);
            }
            MessageConsumer mc = s.createConsumer(q);
            for (int i = 0; i < 200; i++) eq(i, must(mc, "w" + i).getIntProperty("i"), "order");
            // Transacted sends are asynchronous too, and use the window.
            Session ts = c.createSession(true, Session.SESSION_TRANSACTED);
            MessageProducer tp = ts.createProducer(q);
            for (int i = 0; i < 50; i++) {
                BytesMessage m = ts.createBytesMessage();
                m.writeBytes(body);
                m.setIntProperty("i", i);
                tp.send(m);
            }
            ts.commit();
            for (int i = 0; i < 50; i++) eq(i, must(mc, "tx w" + i).getIntProperty("i"), "transacted order");
        } finally {
            c.close();
        }
    }

    // blocked: an asynchronous producer with a window sends more than its
    // address holds (address-full-policy BLOCK): it stalls until a consumer
    // makes room, and nothing is lost.
    static void blocked(String queue) throws Exception {
        Connection c = connect(url + (url.contains("?") ? "&" : "?") + "jms.useAsyncSend=true&jms.producerWindowSize=4096");
        try {
            final Session ps = c.createSession(false, Session.AUTO_ACKNOWLEDGE);
            final MessageProducer p = ps.createProducer(ps.createQueue(queue));
            final int n = 60;
            final java.util.concurrent.atomic.AtomicInteger sent = new java.util.concurrent.atomic.AtomicInteger();
            final Throwable[] failure = new Throwable[1];
            Thread t = new Thread(() -> {
                try {
                    for (int i = 0; i < n; i++) {
                        BytesMessage m = ps.createBytesMessage();
                        m.writeBytes(new byte[1000]);
                        m.setIntProperty("i", i);
                        p.send(m);
                        sent.incrementAndGet();
                    }
                } catch (Throwable e) {
                    failure[0] = e;
                }
            });
            t.start();
            Thread.sleep(1000);
            check(t.isAlive(), "the producer was not held: it sent all " + sent.get() + " messages into a full address");
            check(sent.get() < n, "all sent");
            Session cs = c.createSession(false, Session.AUTO_ACKNOWLEDGE);
            MessageConsumer mc = cs.createConsumer(cs.createQueue(queue));
            for (int i = 0; i < n; i++) eq(i, must(mc, "held message " + i).getIntProperty("i"), "order");
            t.join(WAIT);
            check(!t.isAlive(), "the producer finished");
            if (failure[0] != null) throw new AssertionError("producer failed: " + failure[0]);
        } finally {
            c.close();
        }
    }

    // poison: a message rolled back more often than the client's redelivery
    // policy allows is poison-acked and dead-lettered.
    static void poison(String queue, String dlq) throws Exception {
        Connection c = connect(url + (url.contains("?") ? "&" : "?") + "jms.redeliveryPolicy.maximumRedeliveries=2&jms.redeliveryPolicy.initialRedeliveryDelay=0");
        try {
            Session s = c.createSession(false, Session.AUTO_ACKNOWLEDGE);
            s.createProducer(s.createQueue(queue)).send(s.createTextMessage("bad"));
            Session ts = c.createSession(true, Session.SESSION_TRANSACTED);
            MessageConsumer mc = ts.createConsumer(ts.createQueue(queue));
            for (int i = 0; i < 3; i++) {
                Message m = must(mc, "attempt " + i);
                eq(i + 1, m.getIntProperty("JMSXDeliveryCount"), "delivery count");
                ts.rollback();
            }
            none(mc, 300, "dead-lettered after the last rollback");
            MessageConsumer dead = s.createConsumer(s.createQueue(dlq));
            eq("bad", text(must(dead, "in the dead-letter queue")), "dead-lettered body");
        } finally {
            c.close();
        }
    }

    // closedbybroker: a consumer whose queue an operator deletes is closed
    // by the broker (ConsumerControl): receive then throws.
    static void closedByBroker(String queue) throws Exception {
        Connection c = connect();
        try {
            Session s = c.createSession(false, Session.AUTO_ACKNOWLEDGE);
            MessageConsumer mc = s.createConsumer(s.createQueue(queue));
            System.out.println("OUT ready");
            System.out.flush();
            long until = System.currentTimeMillis() + WAIT;
            while (System.currentTimeMillis() < until) {
                try {
                    mc.receive(100);
                } catch (javax.jms.IllegalStateException closed) {
                    return;
                }
            }
            throw new AssertionError("the consumer was not closed by the broker");
        } finally {
            c.close();
        }
    }

    static void badLogin(String user, String pass) throws Exception {
        try {
            Connection c = new ActiveMQConnectionFactory(url).createConnection(user, pass);
            try {
                c.start();
                c.createSession(false, Session.AUTO_ACKNOWLEDGE);
            } finally {
                try { c.close(); } catch (JMSException ignored) {}
            }
        } catch (JMSSecurityException expected) {
            return;
        }
        throw new AssertionError("login with a wrong password accepted");
    }

    static void denied(String user, String pass, String queue, String allowed) throws Exception {
        Connection c = new ActiveMQConnectionFactory(url).createConnection(user, pass);
        c.start();
        try {
            Session s = c.createSession(false, Session.AUTO_ACKNOWLEDGE);
            try {
                // Refused when the producer is created, as ActiveMQ does.
                s.createProducer(s.createQueue(queue));
                throw new AssertionError("producer on a denied destination accepted");
            } catch (JMSSecurityException expected) {
            }
            MessageProducer anon = s.createProducer(null);
            anon.setDeliveryMode(DeliveryMode.PERSISTENT);
            try {
                anon.send(s.createQueue(queue), s.createTextMessage("no"));
                throw new AssertionError("send to a denied destination accepted");
            } catch (JMSSecurityException expected) {
            }
            try {
                s.createConsumer(s.createQueue(queue));
                throw new AssertionError("consumer on a denied destination accepted");
            } catch (JMSSecurityException expected) {
            }
            try {
                s.createConsumer(s.createTopic("ActiveMQ.Advisory.Connection"));
                throw new AssertionError("connection advisories without the permission accepted");
            } catch (JMSSecurityException expected) {
            }
            // The connection is still good for what is allowed.
            Queue ok = s.createQueue(allowed);
            s.createProducer(ok).send(s.createTextMessage("yes"));
            Message yes = must(s.createConsumer(ok), "allowed");
            eq("yes", text(yes), "allowed queue");
            eq(user, yes.getStringProperty("JMSXUserID"), "JMSXUserID stamped by the broker");
        } finally {
            c.close();
        }
    }

    // send: one message, for another protocol's client to receive.
    static void send(String dest, String body, String kind) throws Exception {
        Connection c = connect();
        try {
            Session s = c.createSession(false, Session.AUTO_ACKNOWLEDGE);
            Destination d = dest.startsWith("topic.") ? s.createTopic(dest.substring(6)) : s.createQueue(dest);
            Message m;
            if (kind.equals("bytes")) {
                BytesMessage bm = s.createBytesMessage();
                bm.writeBytes(body.getBytes("UTF-8"));
                m = bm;
            } else {
                m = s.createTextMessage(body);
            }
            m.setStringProperty("color", "blue");
            m.setIntProperty("n", 7);
            m.setJMSCorrelationID("corr-x");
            s.createProducer(d).send(m);
            System.out.println("OUT id " + m.getJMSMessageID());
        } finally {
            c.close();
        }
    }

    // recv: one message from another protocol's client, described on OUT lines.
    static void recv(String dest, String kind) throws Exception {
        Connection c = connect();
        try {
            Session s = c.createSession(false, Session.AUTO_ACKNOWLEDGE);
            Destination d = kind.equals("topic") ? s.createTopic(dest) : s.createQueue(dest);
            MessageConsumer mc = s.createConsumer(d);
            if (kind.equals("topic")) {
                System.out.println("OUT ready");
                System.out.flush();
            }
            Message m = must(mc, "from another protocol");
            if (m instanceof TextMessage) {
                System.out.println("OUT type text");
                System.out.println("OUT body " + ((TextMessage) m).getText());
            } else if (m instanceof BytesMessage) {
                BytesMessage b = (BytesMessage) m;
                byte[] buf = new byte[(int) b.getBodyLength()];
                b.readBytes(buf);
                System.out.println("OUT type bytes");
                System.out.println("OUT body " + new String(buf, "UTF-8"));
            } else {
                System.out.println("OUT type " + m.getClass().getSimpleName());
            }
            List<String> names = new ArrayList<>();
            for (Enumeration<?> e = m.getPropertyNames(); e.hasMoreElements(); ) names.add((String) e.nextElement());
            java.util.Collections.sort(names);
            for (String n : names) {
                Object v = m.getObjectProperty(n);
                System.out.println("OUT prop " + n + " " + v.getClass().getSimpleName() + " " + v);
            }
            if (m.getJMSCorrelationID() != null) System.out.println("OUT correlation " + m.getJMSCorrelationID());
        } finally {
            c.close();
        }
    }

    // failover: a failover client sends, waits while the Go side restarts
    // the broker (it writes a line to stdin once the broker is back), then
    // sends again and receives both persistent messages.
    static void failover(String queue) throws Exception {
        Connection c = connect("failover:(" + url + ")?initialReconnectDelay=50&maxReconnectDelay=200&timeout=10000");
        try {
            Session s = c.createSession(false, Session.AUTO_ACKNOWLEDGE);
            Queue q = s.createQueue(queue);
            MessageProducer p = s.createProducer(q);
            p.setDeliveryMode(DeliveryMode.PERSISTENT);
            p.send(s.createTextMessage("before restart"));
            System.out.println("OUT sent");
            System.out.flush();
            BufferedReader in = new BufferedReader(new InputStreamReader(System.in));
            if (in.readLine() == null) throw new AssertionError("stdin closed");
            p.send(s.createTextMessage("after restart"));
            MessageConsumer mc = s.createConsumer(q);
            eq("before restart", text(must(mc, "stored before the restart")), "first");
            eq("after restart", text(must(mc, "sent after the restart")), "second");
        } finally {
            c.close();
        }
    }
}
