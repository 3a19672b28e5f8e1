import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;

import javax.jms.Connection;
import javax.jms.DeliveryMode;
import javax.jms.JMSException;
import javax.jms.Message;
import javax.jms.MessageConsumer;
import javax.jms.MessageProducer;
import javax.jms.Queue;
import javax.jms.Session;
import javax.jms.TextMessage;

import org.apache.activemq.ActiveMQConnection;
import org.apache.activemq.ActiveMQConnectionFactory;
import org.apache.activemq.transport.TransportListener;

// HAClient: a JMS producer and a JMS consumer, each on its own connection
// with the failover URL given, across the SIGKILL of the live broker
// (test/pgstore TestHAFailover). The producer sends persistent messages
// until a line arrives on stdin; a send that returned without an exception
// is confirmed. Then every confirmed message must reach the consumer
// (duplicates allowed: the failover transport resends a send it had in
// flight when the connection died, and the backup redelivers what the dead
// broker delivered but never saw acknowledged).
//
// Output: "OUT sending" once the first send is confirmed; "OUT confirmed N";
// "OUT received distinct=D deliveries=R duplicates=X redelivered=Y
// interrupted=C" (C: connections that lost the live broker, 2 wanted);
// "OUT gap MS" (the longest time one send took, the failover included);
// "OUT caught up MS" (how long after the last send the consumer had them all);
// then "PASS ha" or "FAIL ha: why".
public class HAClient {
    public static void main(String[] args) throws Exception {
        String url = args[0];
        String queue = args[1];
        try {
            run(url, queue);
            System.out.println("PASS ha");
        } catch (Throwable e) {
            System.out.println("FAIL ha: " + e);
            e.printStackTrace();
        }
        System.out.flush();
        System.exit(0);
    }

    // interrupted counts the connections that lost their broker (the
    // failover transport also calls transportResumed on the first connect).
    static final AtomicInteger interrupted = new AtomicInteger();

    static Connection connect(String url) throws JMSException {
        ActiveMQConnection c = (ActiveMQConnection) new ActiveMQConnectionFactory(url).createConnection();
        c.addTransportListener(new TransportListener() {
            public void onCommand(Object command) {}
            public void onException(IOException error) {}
            public void transportInterupted() { interrupted.incrementAndGet(); }
            public void transportResumed() {}
        });
        c.start();
        return c;
    }

    static void run(String url, String queue) throws Exception {
        Map<String, Integer> seen = new ConcurrentHashMap<>();
        AtomicInteger deliveries = new AtomicInteger();
        AtomicInteger redelivered = new AtomicInteger();
        Connection cc = connect(url);
        Connection pc = connect(url);
        try {
            Session cs = cc.createSession(false, Session.AUTO_ACKNOWLEDGE);
            MessageConsumer mc = cs.createConsumer(cs.createQueue(queue));
            mc.setMessageListener(m -> {
                try {
                    seen.merge(((TextMessage) m).getText(), 1, Integer::sum);
                    deliveries.incrementAndGet();
                    if (m.getJMSRedelivered()) redelivered.incrementAndGet();
                } catch (JMSException e) {
                    throw new RuntimeException(e);
                }
            });

            AtomicBoolean stop = new AtomicBoolean();
            Thread stdin = new Thread(() -> {
                try {
                    new BufferedReader(new InputStreamReader(System.in)).readLine();
                } catch (Exception e) {
                    // stdin closed: stop as well
                }
                stop.set(true);
            });
            stdin.setDaemon(true);
            stdin.start();

            Session ps = pc.createSession(false, Session.AUTO_ACKNOWLEDGE);
            Queue q = ps.createQueue(queue);
            MessageProducer p = ps.createProducer(q);
            p.setDeliveryMode(DeliveryMode.PERSISTENT);
            int confirmed = 0;
            long gap = 0;
            while (!stop.get()) {
                long t0 = System.nanoTime();
                p.send(ps.createTextMessage(String.format("ow-%06d", confirmed)));
                gap = Math.max(gap, System.nanoTime() - t0);
                if (confirmed++ == 0) {
                    System.out.println("OUT sending");
                    System.out.flush();
                }
            }
            System.out.println("OUT confirmed " + confirmed);
            System.out.println("OUT gap " + gap / 1_000_000);
            System.out.flush();

            long stopped = System.currentTimeMillis();
            long deadline = stopped + 30_000;
            int missing = confirmed;
            while (System.currentTimeMillis() < deadline) {
                missing = 0;
                for (int i = 0; i < confirmed; i++) {
                    if (!seen.containsKey(String.format("ow-%06d", i))) missing++;
                }
                if (missing == 0) break;
                Thread.sleep(50); // polls the listener's progress; bounded by the deadline
            }
            System.out.println("OUT caught up " + (System.currentTimeMillis() - stopped));
            // What else comes: late duplicates are counted, not failed.
            Thread.sleep(500);
            int d = deliveries.get();
            System.out.println("OUT received distinct=" + seen.size() + " deliveries=" + d
                    + " duplicates=" + (d - seen.size()) + " redelivered=" + redelivered.get()
                    + " interrupted=" + interrupted.get());
            System.out.flush();
            if (interrupted.get() < 2) {
                throw new AssertionError(interrupted.get() + " of 2 connections interrupted: the failover did not happen under the JMS client");
            }
            if (missing > 0) {
                StringBuilder first = new StringBuilder();
                for (int i = 0, n = 0; i < confirmed && n < 10; i++) {
                    String b = String.format("ow-%06d", i);
                    if (!seen.containsKey(b)) { first.append(' ').append(b); n++; }
                }
                throw new AssertionError(missing + " of " + confirmed + " confirmed messages not received, first:" + first);
            }
            for (String b : seen.keySet()) {
                int i = Integer.parseInt(b.substring(3));
                if (i >= confirmed) throw new AssertionError("received " + b + ", never sent");
            }
        } finally {
            pc.close();
            cc.close();
        }
    }
}
