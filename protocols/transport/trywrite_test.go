package transport

import (
	"bytes"
	"io"
	"net"
	"testing"
	"time"
)

// tcpPair returns both ends of a loopback TCP connection.
func tcpPair(t *testing.T) (client, server *net.TCPConn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, _ := ln.Accept()
		accepted <- c
	}()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	s := recv(t, accepted, "accept")
	if s == nil {
		t.Fatal("accept failed")
	}
	t.Cleanup(func() { c.Close(); s.Close() })
	return c.(*net.TCPConn), s.(*net.TCPConn)
}

func TestTryWriteWritesWhatFits(t *testing.T) {
	c, s := tcpPair(t)
	msg := []byte("RECEIPT\nreceipt-id:1\n\n\x00")
	n, ok, err := TryWrite(s, msg)
	if !ok || err != nil || n != len(msg) {
		t.Fatalf("TryWrite = %d, %v, %v; want %d, true, nil", n, ok, err, len(msg))
	}
	got := make([]byte, len(msg))
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.ReadFull(c, got); err != nil || !bytes.Equal(got, msg) {
		t.Fatalf("peer read %q, %v", got, err)
	}
}

// A peer that does not read fills the socket buffers: TryWrite then returns
// what went out instead of blocking, and the rest can still be written.
func TestTryWriteDoesNotBlockOnFullBuffer(t *testing.T) {
	c, s := tcpPair(t)
	// More than loopback's socket buffers hold, however large they grow.
	big := bytes.Repeat([]byte("x"), 32<<20)
	done := make(chan struct{})
	var n int
	var ok bool
	var err error
	go func() {
		defer close(done)
		n, ok, err = TryWrite(s, big)
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("TryWrite blocked on a full socket buffer")
	}
	if !ok || err != nil {
		t.Fatalf("TryWrite: ok %v, err %v", ok, err)
	}
	if n <= 0 || n >= len(big) {
		t.Fatalf("TryWrite wrote %d of %d bytes; want a part", n, len(big))
	}
	// The connection is still usable: the reader gets exactly the prefix
	// written, then the rest written the ordinary way.
	werr := make(chan error, 1)
	go func() {
		_ = s.SetWriteDeadline(time.Now().Add(10 * time.Second))
		_, err := s.Write(big[n:])
		werr <- err
	}()
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	got, err := io.ReadAll(io.LimitReader(c, int64(len(big))))
	if err != nil || !bytes.Equal(got, big) {
		t.Fatalf("peer read %d bytes (err %v), equal %v; TryWrite wrote %d", len(got), err, bytes.Equal(got, big), n)
	}
	if err := recv(t, werr, "write of the rest"); err != nil {
		t.Fatal(err)
	}
}

func TestTryWriteOnlyPlainTCP(t *testing.T) {
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	if n, ok, err := TryWrite(a, []byte("x")); ok || n != 0 || err != nil {
		t.Fatalf("TryWrite on a pipe = %d, %v, %v; want 0, false, nil", n, ok, err)
	}
}

func TestTryWriteClosedConn(t *testing.T) {
	_, s := tcpPair(t)
	s.Close()
	if _, ok, err := TryWrite(s, []byte("x")); !ok || err == nil {
		t.Fatalf("TryWrite on a closed connection: ok %v, err %v; want an error", ok, err)
	}
}
