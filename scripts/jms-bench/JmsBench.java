// JmsBench: one JMS producer and one JMS consumer on a queue, through the
// ActiveMQ 5.x JMS client (OpenWire), so that Junction and ActiveMQ are
// measured with the same client. scripts/bench-openwire.sh compiles and runs
// it (classpath: Debian's libactivemq-java, see /work/shared/FACTS.md).
//
//   java -cp CP:DIR JmsBench --url tcp://127.0.0.1:36616 --queue q -n 100000
//        [--persistent] [--size 100] [--warmup 10000] [--broker-pid PID] [--label NAME]
//
// Non-persistent sends are asynchronous (the client's default for them);
// persistent sends are synchronous (the JMS default the client follows: each
// send waits for the broker's Response). The producer window is the
// client's default. The consumer uses AUTO_ACKNOWLEDGE and the default
// prefetch, on its own connection. Each body is a TextMessage of --size
// characters whose first 19 carry System.nanoTime() at send, so latency is
// measured in one JVM clock. With --broker-pid, the broker's CPU time
// (utime+stime from /proc/PID/stat) is read around the measured phase only.
//
// Output: one JSON line.

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;

import javax.jms.Connection;
import javax.jms.DeliveryMode;
import javax.jms.JMSException;
import javax.jms.Message;
import javax.jms.MessageConsumer;
import javax.jms.MessageProducer;
import javax.jms.Queue;
import javax.jms.Session;
import javax.jms.TextMessage;

import org.apache.activemq.ActiveMQConnectionFactory;

public class JmsBench {
    static String url = "tcp://127.0.0.1:61616", queueName = "bench.openwire", label = "";
    static int n = 100000, size = 100, warmup = 10000;
    static boolean persistent;
    static long brokerPid = -1;
    static final long TICK_NS = 10_000_000L; // USER_HZ 100 on Linux

    public static void main(String[] args) throws Exception {
        for (int i = 0; i < args.length; i++) {
            switch (args[i]) {
                case "--url": url = args[++i]; break;
                case "--queue": queueName = args[++i]; break;
                case "-n": n = Integer.parseInt(args[++i]); break;
                case "--size": size = Integer.parseInt(args[++i]); break;
                case "--warmup": warmup = Integer.parseInt(args[++i]); break;
                case "--persistent": persistent = true; break;
                case "--broker-pid": brokerPid = Long.parseLong(args[++i]); break;
                case "--label": label = args[++i]; break;
                default: throw new IllegalArgumentException("unknown argument " + args[i]);
            }
        }
        if (size < 19) throw new IllegalArgumentException("--size below 19");
        ActiveMQConnectionFactory cf = new ActiveMQConnectionFactory(url);
        Connection pc = cf.createConnection(), cc = cf.createConnection();
        try {
            cc.start();
            pc.start();
            Session cs = cc.createSession(false, Session.AUTO_ACKNOWLEDGE);
            Session ps = pc.createSession(false, Session.AUTO_ACKNOWLEDGE);
            Queue q = ps.createQueue(queueName);
            MessageConsumer consumer = cs.createConsumer(cs.createQueue(queueName));
            MessageProducer producer = ps.createProducer(q);
            producer.setDeliveryMode(persistent ? DeliveryMode.PERSISTENT : DeliveryMode.NON_PERSISTENT);
            char[] pad = new char[size];
            Arrays.fill(pad, 'x');
            String padding = new String(pad, 19, size - 19);

            if (warmup > 0) phase(ps, producer, consumer, padding, warmup, null);
            long[] lat = new long[n];
            long b0 = cpuTicks(brokerPid), c0 = cpuTicks(ProcessHandle.current().pid());
            long t0 = System.nanoTime();
            long sendEnd = phase(ps, producer, consumer, padding, n, lat);
            long t1 = System.nanoTime();
            long b1 = cpuTicks(brokerPid), c1 = cpuTicks(ProcessHandle.current().pid());
            Arrays.sort(lat);
            double secs = (t1 - t0) / 1e9;
            StringBuilder sb = new StringBuilder();
            sb.append("{\"label\":\"").append(label).append("\",\"url\":\"").append(url)
              .append("\",\"mode\":\"").append(persistent ? "persistent-sync" : "nonpersistent-async")
              .append("\",\"n\":").append(n).append(",\"size\":").append(size)
              .append(",\"seconds\":").append(String.format("%.3f", secs))
              .append(",\"msgs_per_s\":").append(Math.round(n / secs))
              .append(",\"send_msgs_per_s\":").append(Math.round(n / ((sendEnd - t0) / 1e9)))
              .append(",\"lat_p50_us\":").append(lat[n / 2] / 1000)
              .append(",\"lat_p99_us\":").append(lat[(int) (n * 0.99)] / 1000)
              .append(",\"lat_max_us\":").append(lat[n - 1] / 1000);
            if (brokerPid > 0) {
                sb.append(",\"broker_cpu_us_per_msg\":")
                  .append(String.format("%.2f", (b1 - b0) * TICK_NS / 1000.0 / n));
            }
            sb.append(",\"client_cpu_us_per_msg\":").append(String.format("%.2f", (c1 - c0) * TICK_NS / 1000.0 / n));
            sb.append("}");
            System.out.println(sb);
        } finally {
            pc.close();
            cc.close();
        }
    }

    // phase sends count messages from this thread while a second thread
    // receives them; it returns when all arrived (the time the last send
    // returned is the result). lat, if not null, gets each message's latency.
    static long phase(Session ps, MessageProducer producer, MessageConsumer consumer, String padding, int count,
            long[] lat) throws Exception {
        CountDownLatch done = new CountDownLatch(1);
        AtomicReference<Throwable> failed = new AtomicReference<>();
        Thread rx = new Thread(() -> {
            try {
                for (int i = 0; i < count; i++) {
                    Message m = consumer.receive(60_000);
                    if (m == null) throw new IllegalStateException("no message for 60 s after " + i + " of " + count);
                    long now = System.nanoTime();
                    if (lat != null) {
                        String body = ((TextMessage) m).getText();
                        lat[i] = now - Long.parseLong(body.substring(0, 19).trim());
                    }
                }
            } catch (Throwable t) {
                failed.set(t);
            } finally {
                done.countDown();
            }
        }, "receiver");
        rx.start();
        StringBuilder sb = new StringBuilder(padding.length() + 19);
        for (int i = 0; i < count && failed.get() == null; i++) {
            sb.setLength(0);
            String ts = Long.toString(System.nanoTime());
            for (int k = ts.length(); k < 19; k++) sb.append(' ');
            sb.append(ts).append(padding);
            producer.send(ps.createTextMessage(sb.toString()));
        }
        long sendEnd = System.nanoTime();
        if (!done.await(10, TimeUnit.MINUTES)) throw new IllegalStateException("receiver did not finish");
        if (failed.get() != null) throw new RuntimeException(failed.get());
        return sendEnd;
    }

    // cpuTicks is utime+stime of a process in clock ticks, -1 if unknown.
    static long cpuTicks(long pid) {
        if (pid <= 0) return -1;
        try {
            String s = Files.readString(Path.of("/proc/" + pid + "/stat"));
            String[] f = s.substring(s.lastIndexOf(')') + 2).split(" ");
            return Long.parseLong(f[11]) + Long.parseLong(f[12]); // fields 14 and 15
        } catch (Exception e) {
            return -1;
        }
    }
}
