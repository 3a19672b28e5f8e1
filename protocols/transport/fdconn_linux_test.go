package transport

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// rawPair is tcpPair with the server side taken off Go's poller.
func rawPair(t *testing.T) (client net.Conn, server *fdConn) {
	t.Helper()
	client, s := tcpPair(t)
	fc, err := adoptTCP(s.(*net.TCPConn))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { fc.Close() })
	return client, fc
}

// openFDs counts this process's descriptors.
func openFDs(t *testing.T) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	return len(ents)
}

// eventually polls cond (state that has no event to await: descriptor and
// goroutine counts) until it holds or waitTimeout passes.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(waitTimeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestFDConnReadWriteAndAddresses(t *testing.T) {
	client, fc := rawPair(t)
	if got, want := fc.RemoteAddr().String(), client.LocalAddr().String(); got != want {
		t.Fatalf("RemoteAddr %s, want the client's %s", got, want)
	}
	if got, want := fc.LocalAddr().String(), client.RemoteAddr().String(); got != want {
		t.Fatalf("LocalAddr %s, want %s", got, want)
	}
	// A Read that has to wait for the poller.
	got := make(chan string, 1)
	go func() {
		b := make([]byte, 16)
		n, err := fc.Read(b)
		got <- fmt.Sprint(string(b[:n]), err)
	}()
	time.Sleep(20 * time.Millisecond) // let the Read reach its wait; the result is the same if not
	if _, err := client.Write([]byte("ping")); err != nil {
		t.Fatal(err)
	}
	if s := recv(t, got, "read"); s != "ping<nil>" {
		t.Fatalf("read %q, want ping", s)
	}
	if _, err := fc.Write([]byte("pong")); err != nil {
		t.Fatal(err)
	}
	b := make([]byte, 4)
	if _, err := io.ReadFull(client, b); err != nil || string(b) != "pong" {
		t.Fatalf("client read %q, %v", b, err)
	}
	// End of stream once the client closes.
	client.Close()
	if n, err := fc.Read(b); n != 0 || err != io.EOF {
		t.Fatalf("read after the peer closed: %d, %v; want EOF", n, err)
	}
}

func TestFDConnDeadlines(t *testing.T) {
	client, fc := rawPair(t)
	fc.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
	start := time.Now()
	_, err := fc.Read(make([]byte, 8))
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() || !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("read past its deadline: %v; want a timeout", err)
	}
	if d := time.Since(start); d < 40*time.Millisecond {
		t.Fatalf("read timed out after %v, before its deadline", d)
	}
	// Moving the deadline forward lets the next read wait for data.
	fc.SetReadDeadline(time.Time{})
	go client.Write([]byte("x"))
	if n, err := fc.Read(make([]byte, 8)); n != 1 || err != nil {
		t.Fatalf("read after clearing the deadline: %d, %v", n, err)
	}
	// A peer that does not read: the write waits for room until its
	// deadline.
	fc.SetWriteDeadline(time.Now().Add(100 * time.Millisecond))
	n, err := fc.Write(make([]byte, 64<<20))
	if !errors.As(err, &ne) || !ne.Timeout() {
		t.Fatalf("write to a peer that does not read: %d, %v; want a timeout", n, err)
	}
	if n == 0 {
		t.Fatal("nothing was written before the socket filled")
	}
}

// Close from another goroutine ends a blocked Read and a blocked Write,
// and the descriptor is gone afterwards.
func TestFDConnCloseWakes(t *testing.T) {
	before := openFDs(t)
	_, fc := rawPair(t)
	errs := make(chan error, 2)
	go func() {
		_, err := fc.Read(make([]byte, 8))
		errs <- err
	}()
	go func() {
		_, err := fc.Write(make([]byte, 64<<20))
		errs <- err
	}()
	time.Sleep(50 * time.Millisecond) // both reach their waits (the outcome is the same if not)
	if err := fc.Close(); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if err := recv(t, errs, "the blocked call to end"); !errors.Is(err, net.ErrClosed) {
			t.Fatalf("blocked call ended with %v, want net.ErrClosed", err)
		}
	}
	if err := fc.Close(); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("second Close: %v, want net.ErrClosed", err)
	}
	// The pair's client side is still open (closed at cleanup): one more
	// than before.
	eventually(t, "the descriptor to close", func() bool { return openFDs(t) == before+1 })
}

// A parked connection resumes on input, on its deadline and on Close,
// each exactly once.
func TestFDConnPark(t *testing.T) {
	client, fc := rawPair(t)
	woke := make(chan bool, 4)
	if !fc.park(time.Time{}, func(timedOut bool) { woke <- timedOut }) {
		t.Fatal("an idle connection did not park")
	}
	client.Write([]byte("a"))
	if timedOut := recv(t, woke, "wake on input"); timedOut {
		t.Fatal("woken by input, reported a timeout")
	}
	if n, err := fc.Read(make([]byte, 8)); n != 1 || err != nil {
		t.Fatalf("read after the wake: %d, %v", n, err)
	}
	// Input that is there already: park declines, or wakes at once.
	client.Write([]byte("b"))
	time.Sleep(10 * time.Millisecond) // usually the byte is there by now; either way works
	if fc.park(time.Time{}, func(timedOut bool) { woke <- timedOut }) {
		recv(t, woke, "wake on the second byte")
	}
	if n, err := fc.Read(make([]byte, 8)); n != 1 || err != nil {
		t.Fatalf("read the second byte: %d, %v", n, err)
	}
	// The deadline.
	if !fc.park(time.Now().Add(30*time.Millisecond), func(timedOut bool) { woke <- timedOut }) {
		t.Fatal("did not park")
	}
	if timedOut := recv(t, woke, "wake on the deadline"); !timedOut {
		t.Fatal("woken at the deadline without a timeout")
	}
	// Close.
	fc.SetReadDeadline(time.Time{})
	if !fc.park(time.Time{}, func(timedOut bool) { woke <- timedOut }) {
		t.Fatal("did not park")
	}
	fc.Close()
	if timedOut := recv(t, woke, "wake on close"); timedOut {
		t.Fatal("woken by Close, reported a timeout")
	}
	if _, err := fc.Read(make([]byte, 1)); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("read after Close: %v", err)
	}
	select {
	case <-woke:
		t.Fatal("woken twice")
	case <-time.After(50 * time.Millisecond):
	}
}

// A deadline timer of an earlier park that fires late must not end a
// later park that has no deadline.
func TestFDConnStaleParkTimer(t *testing.T) {
	client, fc := rawPair(t)
	woke := make(chan bool, 4)
	if !fc.park(time.Now().Add(20*time.Millisecond), func(timedOut bool) { woke <- timedOut }) {
		t.Fatal("did not park")
	}
	client.Write([]byte("a")) // wakes it before the deadline, most of the time
	recv(t, woke, "first wake")
	fc.Read(make([]byte, 8))
	if !fc.park(time.Time{}, func(timedOut bool) { woke <- timedOut }) {
		t.Fatal("did not park")
	}
	select {
	case timedOut := <-woke:
		t.Fatalf("a park without a deadline woke (timed out %v)", timedOut)
	case <-time.After(100 * time.Millisecond):
	}
	fc.Close()
	recv(t, woke, "wake on close")
}

// lineHandler is a detached handler over Waiter.Run and an Outbox: it
// answers every line with "ok <line>" and ends on "quit".
type lineHandler struct {
	mu       sync.Mutex
	parked   int
	finished int
	types    map[string]int
	conns    chan *lineServerConn
}

type lineServerConn struct {
	h    *lineHandler
	w    Waiter
	mu   sync.Mutex
	ob   Outbox
	rd   *bufio.Reader
	done func()
	once sync.Once
}

func (h *lineHandler) ServeConn(ctx context.Context, nc net.Conn) { ServeBlocking(ctx, h, nc) }

func (h *lineHandler) ServeConnDetached(_ context.Context, nc net.Conn, done func()) {
	c := &lineServerConn{h: h, done: done}
	c.w.Init(nc)
	c.ob.Init(&c.w, &c.mu, time.Second, nopSettler{})
	c.rd = bufio.NewReaderSize(&c.w, 64)
	h.mu.Lock()
	h.types[fmt.Sprintf("%T", nc)]++
	h.mu.Unlock()
	if h.conns != nil {
		h.conns <- c
	}
	go c.w.Run(c, c)
}

func (c *lineServerConn) Buffered() int { return c.rd.Buffered() }
func (c *lineServerConn) WaitIdle() error {
	_, err := c.rd.Peek(1)
	return err
}
func (c *lineServerConn) Release() {}

func (c *lineServerConn) HandleNext() bool {
	line, err := c.rd.ReadString('\n')
	if err != nil {
		return false
	}
	line = strings.TrimSpace(line)
	c.send("ok " + line + "\n")
	return line != "quit"
}

func (c *lineServerConn) send(s string) {
	c.mu.Lock()
	c.ob.Buf = append(c.ob.Buf, s...)
	c.ob.FlushLocked()
}

func (c *lineServerConn) InputFailed(error) {}
func (c *lineServerConn) Quiet() {
	c.h.mu.Lock()
	c.h.parked++
	c.h.mu.Unlock()
}
func (c *lineServerConn) Panicked(any, []byte) {}
func (c *lineServerConn) Finish() {
	c.once.Do(func() {
		c.mu.Lock()
		done := c.ob.CloseLocked()
		c.mu.Unlock()
		if done != nil {
			<-done
		}
		c.w.Close()
		c.h.mu.Lock()
		c.h.finished++
		c.h.mu.Unlock()
		c.done()
	})
}

type nopSettler struct{}

func (nopSettler) SettlePending() bool { return false }
func (nopSettler) TakeSettle()         {}
func (nopSettler) Settle()             {}
func (nopSettler) OutboxClosed()       {}

func (h *lineHandler) counts() (parked, finished int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.parked, h.finished
}

// Many connections through a Server: served from raw descriptors, parked
// while quiet, written to while parked, and ended by the peer or by
// Shutdown, leaving no descriptor and no goroutine behind.
func TestServerRawConnsLeaveNothing(t *testing.T) {
	const n = 200
	fdsBefore := openFDs(t)
	goroutinesBefore := runtime.NumGoroutine()
	srv := NewServer(discardLogger())
	srv.raw = true
	h := &lineHandler{types: map[string]int{}, conns: make(chan *lineServerConn, n)}
	ln, err := ListenTCP("127.0.0.1:0", nil)
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve("line", ln, h) }()

	clients := make([]net.Conn, n)
	readers := make([]*bufio.Reader, n)
	for i := range clients {
		c, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		clients[i], readers[i] = c, bufio.NewReader(c)
		fmt.Fprintf(c, "hello %d\n", i)
	}
	for i, r := range readers {
		clients[i].SetReadDeadline(time.Now().Add(waitTimeout))
		if line, err := r.ReadString('\n'); err != nil || line != fmt.Sprintf("ok hello %d\n", i) {
			t.Fatalf("client %d read %q, %v", i, line, err)
		}
	}
	if h.types["*transport.fdConn"] != n {
		t.Fatalf("connection types %v, want %d raw ones", h.types, n)
	}
	eventually(t, "every connection to park", func() bool { p, _ := h.counts(); return p >= n })
	// Writes from another goroutine reach a parked connection's peer.
	for range n {
		c := recv(t, h.conns, "server connection")
		c.send("pushed\n")
	}
	for i, r := range readers {
		if line, err := r.ReadString('\n'); err != nil || line != "pushed\n" {
			t.Fatalf("client %d read %q, %v; want the pushed line", i, line, err)
		}
	}
	// Half end from their side (a quit while parked wakes the connection),
	// half are closed by Shutdown while parked.
	for i := range n / 2 {
		fmt.Fprintf(clients[i], "quit\n")
		if line, err := readers[i].ReadString('\n'); err != nil || line != "ok quit\n" {
			t.Fatalf("client %d read %q, %v", i, line, err)
		}
		clients[i].Close()
	}
	eventually(t, "half the connections to finish", func() bool { _, f := h.counts(); return f == n/2 })
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	if err := srv.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	if err := recv(t, served, "Serve to return"); !errors.Is(err, ErrServerClosed) {
		t.Fatalf("Serve: %v", err)
	}
	if _, f := h.counts(); f != n {
		t.Fatalf("%d connections finished, want %d", f, n)
	}
	for i := n / 2; i < n; i++ {
		clients[i].SetReadDeadline(time.Now().Add(waitTimeout))
		if _, err := readers[i].ReadString('\n'); err != io.EOF {
			t.Fatalf("client %d after Shutdown: %v, want EOF", i, err)
		}
		clients[i].Close()
	}
	eventually(t, "descriptors to be closed", func() bool { return openFDs(t) <= fdsBefore })
	// The poller's goroutines start once per process and stay.
	eventually(t, "goroutines to end", func() bool { return runtime.NumGoroutine() <= goroutinesBefore+3 })
	if open := slices.ContainsFunc(idle.fd.conns, func(c *fdConn) bool { return c != nil }); open {
		t.Fatal("the poller still lists a connection")
	}
}

// Waiter.Run over a raw connection: it parks in the poller (no goroutine),
// resumes on input, and a silent peer's deadline (keep-alive, heart-beat)
// fires while it is parked.
func TestRunRawParksResumesAndTimesOut(t *testing.T) {
	client, fc := rawPair(t)
	c := newLineConn(fc)
	go c.w.Run(c, c)
	client.Write([]byte("one\n"))
	recv(t, c.got, "line one")
	// Parked in the poller: no goroutine waits for this connection.
	eventually(t, "the connection to park", func() bool { return fc.rst.Load() == slotParked })
	client.Write([]byte("two\n"))
	recv(t, c.got, "line two after the park")

	_, fc2 := rawPair(t)
	c2 := newLineConn(fc2)
	c2.w.PeerTimeout = 3 * HandoffAfter
	go c2.w.Run(c2, c2)
	recv(t, c2.finished, "finish after the peer deadline")
	if _, _, finishes, _, inputErr := c2.snapshot(); !errors.Is(inputErr, os.ErrDeadlineExceeded) || finishes != 1 {
		t.Fatalf("input error %v, finishes %d; want a deadline error and one finish", inputErr, finishes)
	}
	client.Write([]byte("quit\n"))
	recv(t, c.finished, "finish on quit")
}

// readWaiting reads once from fc in a goroutine, reaching the read's wait
// before the client writes msg, and returns what the read got.
func readWaiting(t *testing.T, client net.Conn, fc *fdConn, msg string) string {
	t.Helper()
	got := make(chan string, 1)
	go func() {
		b := make([]byte, 64)
		n, err := fc.Read(b)
		got <- fmt.Sprint(string(b[:n]), err)
	}()
	time.Sleep(5 * time.Millisecond) // the read waits first (the result is the same if not)
	if _, err := client.Write([]byte(msg)); err != nil {
		t.Fatal(err)
	}
	return recv(t, got, "read")
}

// A connection that keeps waiting for input waits in Go's poller through a
// duplicate descriptor; deadlines, a deadline moved by another goroutine,
// Close and parking all still work, and parking or closing gives the
// duplicate back.
func TestFDConnBusyWaits(t *testing.T) {
	// The poller's own descriptors, opened by the first raw connection,
	// are not this test's.
	if err := idle.fdInit(); err != nil {
		t.Fatal(err)
	}
	before := openFDs(t)
	client, fc := rawPair(t)
	busy := func() bool {
		rx := fc.rx.Load()
		return rx != nil && rx.busy.Load() != nil
	}
	// Each read usually waits; one that does not just takes another turn.
	for i := 0; !busy(); i++ {
		if i > 20*busyAfter {
			t.Fatalf("not waiting in Go's poller after %d reads", i)
		}
		msg := fmt.Sprint("m", i)
		if s := readWaiting(t, client, fc, msg); s != msg+"<nil>" {
			t.Fatalf("read %q, want %s", s, msg)
		}
	}
	// The pair's two descriptors and the duplicate.
	eventually(t, "the duplicate to be open", func() bool { return openFDs(t) == before+3 })
	// The read deadline.
	fc.SetReadDeadline(time.Now().Add(40 * time.Millisecond))
	start := time.Now()
	if _, err := fc.Read(make([]byte, 8)); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("busy read past its deadline: %v", err)
	} else if d := time.Since(start); d < 30*time.Millisecond {
		t.Fatalf("busy read timed out after %v, before its deadline", d)
	}
	// Moved by another goroutine while the read waits.
	fc.SetReadDeadline(time.Time{})
	errs := make(chan error, 1)
	go func() {
		_, err := fc.Read(make([]byte, 8))
		errs <- err
	}()
	time.Sleep(20 * time.Millisecond)
	fc.SetReadDeadline(time.Now())
	if err := recv(t, errs, "the read to see its deadline moved"); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("busy read after its deadline moved: %v", err)
	}
	fc.SetReadDeadline(time.Time{})
	// Parking gives the duplicate back; input resumes the connection.
	woke := make(chan bool, 1)
	if !fc.park(time.Time{}, func(timedOut bool) { woke <- timedOut }) {
		t.Fatal("did not park")
	}
	if busy() || busyConns.Load() != 0 {
		t.Fatal("a parked connection still waits through its duplicate")
	}
	eventually(t, "the duplicate to close", func() bool { return openFDs(t) == before+2 })
	client.Write([]byte("x"))
	if recv(t, woke, "wake on input") {
		t.Fatal("woken by input, reported a timeout")
	}
	if n, err := fc.Read(make([]byte, 8)); n != 1 || err != nil {
		t.Fatalf("read after the wake: %d, %v", n, err)
	}
	// Busy again; Close wakes the waiting read.
	for i := 0; !busy(); i++ {
		if i > 20*busyAfter {
			t.Fatal("not busy again")
		}
		if s := readWaiting(t, client, fc, "y"); s != "y<nil>" {
			t.Fatalf("read %d: %q", i, s)
		}
	}
	go func() {
		_, err := fc.Read(make([]byte, 8))
		errs <- err
	}()
	time.Sleep(20 * time.Millisecond)
	fc.Close()
	if err := recv(t, errs, "Close to end the busy read"); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("busy read ended by Close with %v, want net.ErrClosed", err)
	}
	if busyConns.Load() != 0 {
		t.Fatalf("%d duplicates counted after Close", busyConns.Load())
	}
	eventually(t, "the descriptors to close", func() bool { return openFDs(t) == before+1 })
	// End of stream reads as EOF in the busy wait too.
	client2, fc2 := rawPair(t)
	for i := 0; fc2.rx.Load() == nil || fc2.rx.Load().busy.Load() == nil; i++ {
		if i > 20*busyAfter {
			t.Fatal("the second connection did not get busy")
		}
		readWaiting(t, client2, fc2, "z")
	}
	go func() {
		_, err := fc2.Read(make([]byte, 8))
		errs <- err
	}()
	time.Sleep(10 * time.Millisecond)
	client2.Close()
	if err := recv(t, errs, "EOF"); err != io.EOF {
		t.Fatalf("busy read after the peer closed: %v, want EOF", err)
	}
}

// Past the bound on duplicates a connection keeps waiting on our poller,
// and reads as before.
func TestFDConnBusyLimit(t *testing.T) {
	defer func(m int64) { busyMax = m }(busyMax)
	busyMax = 0
	client, fc := rawPair(t)
	for i := range 3 * busyAfter {
		msg := fmt.Sprint("m", i)
		if s := readWaiting(t, client, fc, msg); s != msg+"<nil>" {
			t.Fatalf("read %q, want %s", s, msg)
		}
	}
	if rx := fc.rx.Load(); rx != nil && rx.busy.Load() != nil || busyConns.Load() != 0 {
		t.Fatal("a duplicate was made past the bound")
	}
}
