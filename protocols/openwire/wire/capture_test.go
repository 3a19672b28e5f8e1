package wire

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// The fixtures in testdata/java-*.bin are the bytes the real ActiveMQ JMS
// client (Debian's libactivemq-java 5.17) wrote to a tiny broker built on
// this package. TestJavaClient runs that exchange live, which checks the
// encoder too: the broker dispatches every message it decoded back to the
// client, re-encoded, and testdata/java/Capture.java verifies each field.
// OPENWIRE_UPDATE_FIXTURES=1 rewrites the fixtures from the live run.

// captureCase is one client configuration.
type captureCase struct {
	name    string
	options string // URL query: wireFormat.* and jms.* options
}

var captureCases = []captureCase{
	{"v12-tight", ""},
	{"v12-loose", "wireFormat.tightEncodingEnabled=false"},
	{"v12-nocache", "wireFormat.cacheEnabled=false"},
	{"v12-compressed", "jms.useCompression=true"},
	{"v9-tight", "wireFormat.version=9"},
	{"v6-tight", "wireFormat.version=6"},
	{"v6-loose", "wireFormat.version=6&wireFormat.tightEncodingEnabled=false"},
	// The client asks to drop the size prefix; the broker says no and the
	// client keeps it.
	{"v12-prefix-refused", "wireFormat.sizePrefixDisabled=true"},
	{"v1-loose", "wireFormat.version=1&wireFormat.tightEncodingEnabled=false&wireFormat.cacheEnabled=false"},
}

var javaJars = []string{"activemq-client", "activemq-openwire-legacy", "geronimo-jms_1.1_spec", "hawtbuf",
	"slf4j-api", "slf4j-nop", "geronimo-j2ee-management-1.1-spec"}

// javaClient compiles the programs in testdata/java and returns the java
// command prefix (java -cp CLASSPATH), or skips when Java or the ActiveMQ
// client is absent (never under CI).
func javaClient(t *testing.T) []string {
	t.Helper()
	var cp []string
	missing := ""
	for _, j := range javaJars {
		p := "/usr/share/java/" + j + ".jar"
		if _, err := os.Stat(p); err != nil {
			missing += " " + p
		}
		cp = append(cp, p)
	}
	for _, tool := range []string{"java", "javac"} {
		if _, err := exec.LookPath(tool); err != nil {
			missing += " " + tool
		}
	}
	if missing != "" {
		if os.Getenv("CI") != "" {
			t.Fatalf("the ActiveMQ Java client is required under CI (make test-deps installs libactivemq-java); missing:%s", missing)
		}
		t.Skipf("ActiveMQ Java client not installed (apt-get install libactivemq-java default-jdk-headless); missing:%s", missing)
	}
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	classpath := strings.Join(cp, ":")
	out, err := exec.CommandContext(ctx, "javac", "-d", dir, "-cp", classpath,
		"testdata/java/Capture.java", "testdata/java/Echo.java").CombinedOutput()
	if err != nil {
		t.Fatalf("javac: %v\n%s", err, out)
	}
	return []string{"java", "-cp", dir + ":" + classpath}
}

func TestJavaClient(t *testing.T) {
	java := javaClient(t)
	update := os.Getenv("OPENWIRE_UPDATE_FIXTURES") != ""
	for _, cc := range captureCases {
		t.Run(cc.name, func(t *testing.T) {
			got := runJavaCapture(t, java, cc)
			if update {
				if err := os.WriteFile(fixturePath(cc.name), got, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			// The live bytes must pass the same checks as the stored ones.
			checkFixture(t, got, cc)
		})
	}
}

func fixturePath(name string) string { return filepath.Join("testdata", "java-"+name+".bin") }

// runJavaCapture runs the Java client against a one-connection broker and
// returns every byte the client wrote.
func runJavaCapture(t *testing.T, java []string, cc captureCase) []byte {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()

	type result struct {
		recorded []byte
		err      error
	}
	done := make(chan result, 1)
	go func() {
		conn, err := ln.Accept()
		if err != nil {
			done <- result{err: err}
			return
		}
		defer conn.Close()
		_ = conn.SetDeadline(time.Now().Add(80 * time.Second))
		var rec bytes.Buffer
		err = miniBroker(io.TeeReader(conn, &rec), conn)
		done <- result{recorded: rec.Bytes(), err: err}
	}()

	url := "tcp://" + ln.Addr().String()
	if cc.options != "" {
		url += "?" + cc.options
	}
	args := append(append([]string{}, java[1:]...), "Capture", url)
	out, err := exec.CommandContext(ctx, java[0], args...).CombinedOutput()
	if err != nil || !bytes.HasPrefix(out, []byte("OK ")) {
		_ = ln.Close()
		r := <-done
		t.Fatalf("java client: %v\n%s\nbroker: %v", err, out, r.err)
	}
	var r result
	select {
	case r = <-done:
	case <-ctx.Done():
		t.Fatal("broker did not finish")
	}
	if r.err != nil {
		t.Fatalf("broker: %v", r.err)
	}
	return r.recorded
}

// miniBroker answers a JMS client well enough for Capture.java: it completes
// the handshake, answers every command that wants a response, and dispatches
// the messages sent to cap.q back to the first consumer of cap.q.
func miniBroker(in io.Reader, out io.Writer) error {
	ours := ServerOptions(30*time.Second, 0)
	enc := NewEncoder(InitialFormat())
	frame, err := enc.Encode(nil, NewWireFormatInfo(ours))
	if err != nil {
		return err
	}
	if _, err := out.Write(frame); err != nil {
		return err
	}
	rd := NewReader(in, InitialFormat())
	cmd, err := rd.ReadCommand()
	if err != nil {
		return fmt.Errorf("handshake: %w", err)
	}
	wfi, ok := cmd.(*WireFormatInfo)
	if !ok {
		return fmt.Errorf("first command is %s", TypeName(cmd.DataType()))
	}
	n, err := Negotiate(ours, wfi, 0)
	if err != nil {
		return err
	}
	rd.SetFormat(n.Format)
	enc.SetFormat(n.Format)
	var queued []*Message
	send := func(c Command) error {
		b, err := enc.Encode(nil, c)
		if err != nil {
			return err
		}
		_, err = out.Write(b)
		return err
	}
	for {
		cmd, err := rd.ReadCommand()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		switch c := cmd.(type) {
		case *Message:
			if c.Destination != nil && c.Destination.PhysicalName == "cap.q" {
				queued = append(queued, c)
			}
		case *KeepAliveInfo:
			if c.ResponseRequired {
				if err := send(&KeepAliveInfo{}); err != nil {
					return err
				}
			}
			continue
		case *ShutdownInfo:
			return nil
		}
		if b := cmd.Base(); b.ResponseRequired {
			if err := send(&Response{CorrelationID: b.CommandID}); err != nil {
				return err
			}
		}
		if ci, ok := cmd.(*ConsumerInfo); ok && ci.Destination.PhysicalName == "cap.q" {
			for _, m := range queued {
				if err := send(&MessageDispatch{ConsumerID: ci.ConsumerID, Destination: m.Destination, Message: m}); err != nil {
					return err
				}
			}
			queued = nil
		}
	}
}
