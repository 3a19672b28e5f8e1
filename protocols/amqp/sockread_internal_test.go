package amqp

import (
	"errors"
	"io"
	"net"
	"testing"
	"time"

	"github.com/junctionmq/junction/protocols/transport"
)

// tcpPair is a connected pair of loopback TCP connections.
func tcpPair(t *testing.T) (server, client net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	client, err = net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	server, err = ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { server.Close(); client.Close() })
	return server, client
}

// The socket reader behaves as the Waiter's Read did: data and the bytes
// counted, the peer noted as heard from, a passed read deadline a timeout,
// the peer's close io.EOF, a local close net.ErrClosed.
func TestSockReader(t *testing.T) {
	server, client := tcpPair(t)
	var w transport.Waiter
	w.Init(server)
	w.PeerTimeout = time.Hour
	w.Meter = new(transport.Meter)
	var r sockReader
	r.init(&w)

	heard := w.PeerDeadline()
	time.Sleep(2 * time.Millisecond) // the clock must move for the check below
	if _, err := client.Write([]byte("hello")); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 16)
	n, err := r.Read(buf)
	if err != nil || string(buf[:n]) != "hello" {
		t.Fatalf("read %q, %v; want hello", buf[:n], err)
	}
	if got := w.Meter.In.Load(); got != 5 {
		t.Fatalf("meter counted %d bytes, want 5", got)
	}
	if !w.PeerDeadline().After(heard) {
		t.Fatal("the peer deadline did not move with the read")
	}

	// Nothing to read: the deadline ends the wait.
	if err := server.SetReadDeadline(time.Now().Add(20 * time.Millisecond)); err != nil {
		t.Fatal(err)
	}
	_, err = r.Read(buf)
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() {
		t.Fatalf("read past the deadline: %v, want a timeout", err)
	}
	if err := server.SetReadDeadline(time.Time{}); err != nil {
		t.Fatal(err)
	}

	// A read waiting for input wakes for it.
	done := make(chan error, 1)
	go func() {
		n, err := r.Read(buf)
		if err == nil && string(buf[:n]) != "later" {
			err = errors.New("read " + string(buf[:n]))
		}
		done <- err
	}()
	time.Sleep(5 * time.Millisecond)
	if _, err := client.Write([]byte("later")); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("a waiting read did not wake for input")
	}

	client.Close()
	if _, err := r.Read(buf); !errors.Is(err, io.EOF) {
		t.Fatalf("read after the peer closed: %v, want io.EOF", err)
	}
	server.Close()
	if _, err := r.Read(buf); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("read after close: %v, want net.ErrClosed", err)
	}
}
