import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.EOFException;

import org.apache.activemq.openwire.OpenWireFormat;

/**
 * The ActiveMQ client's own marshallers as an oracle for echo_test.go. Reads
 * blocks from stdin: int version, byte tight, byte cache, byte stackTrace,
 * int length, then that many bytes of size-prefixed frames. Each block gets a
 * fresh OpenWireFormat; every frame is unmarshalled and marshalled again, and
 * the block's output is written as int length + bytes (length -1 + a UTF-8
 * message on failure).
 */
public class Echo {
    public static void main(String[] args) throws Exception {
        DataInputStream in = new DataInputStream(System.in);
        DataOutputStream out = new DataOutputStream(System.out);
        while (true) {
            int version;
            try {
                version = in.readInt();
            } catch (EOFException e) {
                break;
            }
            boolean tight = in.readByte() != 0, cache = in.readByte() != 0, stack = in.readByte() != 0;
            byte[] block = new byte[in.readInt()];
            in.readFully(block);
            ByteArrayOutputStream res = new ByteArrayOutputStream();
            int frame = 0;
            try {
                OpenWireFormat wf = new OpenWireFormat(version);
                wf.setTightEncodingEnabled(tight);
                wf.setCacheEnabled(cache);
                wf.setStackTraceEnabled(stack);
                DataInputStream bin = new DataInputStream(new ByteArrayInputStream(block));
                DataOutputStream bout = new DataOutputStream(res);
                while (bin.available() > 0) {
                    Object o = wf.unmarshal(bin);
                    wf.marshal(o, bout);
                    frame++;
                }
                bout.flush();
            } catch (Throwable e) {
                byte[] msg = ("frame " + frame + ": " + e).getBytes("UTF-8");
                out.writeInt(-1);
                out.writeInt(msg.length);
                out.write(msg);
                out.flush();
                continue;
            }
            out.writeInt(res.size());
            res.writeTo(out);
            out.flush();
        }
    }
}
