package transport

import (
	"errors"
	"io"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"
)

// fdConn is a plain TCP connection served from its descriptor rather than
// through Go's net package: a net.TCPConn costs about 300 bytes of heap (the
// netFD, two addresses and their socket addresses) and 315 bytes of the
// runtime's poll descriptor, outside the heap, for every connection, idle or
// not. Here a connection is this struct (80 bytes) and a slot in the
// poller's table (8 bytes).
//
// The descriptor is non-blocking. A Read or Write that would block waits
// for our epoll poller (one-shot registrations armed only while someone
// waits, so a busy connection causes no wake-ups of the poller thread), with
// its deadline; a quiet connection parks there with no goroutine (see park).
// Close may come from any goroutine: the descriptor is closed once no
// system call uses it any more (refs), so its number cannot be reused under
// a call in progress.
type fdConn struct {
	fd    int32
	state atomic.Uint32 // closed (bit 0), system calls in progress (<< 1)
	// Each side's wait (the read side may park): the state (slotIdle...)
	// and the channel a waiting goroutine blocks on, made by its first
	// wait, one token per wake-up. The read side's is in rx, with what a
	// busy connection waits with (see readSide); nil while parked.
	rst, wst atomic.Uint32
	rx       atomic.Pointer[readSide]
	wch      chan struct{}
	rdl      atomic.Int64 // read deadline, Unix nanoseconds (0: none)
	wdl      atomic.Int64 // write deadline
	wmu      sync.Mutex   // makes each Write whole, as net.Conn promises
	// The reader's timer: for a Read's deadline (made by the first wait
	// that has one), or while parked the park's deadline (see park).
	t *time.Timer
	// Set by park before the read side becomes parked; run once by
	// whoever moves it out of parked.
	wake func(timedOut bool)
	// The listener whose Server tracks the connection (see trackRaw);
	// nil once it is done.
	l atomic.Pointer[listener]
}

// readSide is the reader's waiting state, made by its first wait and
// dropped when the connection parks. A connection that keeps waiting for
// input between parks (a producer whose messages arrive a little slower
// than it is served) waits in Go's own poller instead, through a duplicate
// of its descriptor (busy): registered once, edge-triggered, and the runtime
// wakes the reader itself. Our one-shot registration needs an epoll_ctl per
// wait and wakes the poller goroutine, which wakes the reader: two goroutine
// hand-offs, each of which may wake a thread, where net.Conn has one
// (measured: about a fifth of the broker's CPU per message with a paho
// client publishing QoS 0; docs/PERFORMANCE.md). The duplicate and its poll
// descriptor cost a file slot and a few hundred bytes, for busy connections
// only: parking closes it.
type readSide struct {
	ch    chan struct{} // see fdConn.rst
	waits int           // since the connection last parked
	// busy is the duplicate in Go's poller, set by the reader; Close and
	// SetReadDeadline read it from other goroutines.
	busy   atomic.Pointer[os.File]
	rc     syscall.RawConn
	noBusy bool // the duplicate could not be made: no second try
	// The read in progress, for rc.Read's callback (made once: a closure
	// per read would be an allocation per read).
	fn  func(fd uintptr) bool
	p   []byte
	n   int
	err error
}

// busyAfter is how many waits for input between two parks make a
// connection busy: a device that connects and goes quiet waits once or
// twice and never pays for the duplicate.
var busyAfter = 4

// busyConns counts connections waiting through a duplicate; busyMax
// bounds them, so that duplicates never take the file slots new
// connections need (a quarter of the limit).
var (
	busyConns atomic.Int64
	busyMax   = func() int64 {
		var rl syscall.Rlimit
		if syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl) != nil {
			return 256
		}
		return int64(min(rl.Cur/4, 1<<20))
	}()
)

// readSide returns the reader's waiting state, made if need be (reader
// only).
func (c *fdConn) readSide() *readSide {
	rx := c.rx.Load()
	if rx == nil {
		rx = &readSide{ch: make(chan struct{}, 1)}
		c.rx.Store(rx)
	}
	return rx
}

// goBusy moves the reader's waits to Go's poller (see readSide) and reports
// whether it did. Reader only.
func (c *fdConn) goBusy(rx *readSide) bool {
	if rx.noBusy {
		return false
	}
	if busyConns.Add(1) > busyMax {
		busyConns.Add(-1)
		rx.noBusy = true
		return false
	}
	if !c.incref() {
		busyConns.Add(-1)
		return false
	}
	nfd, _, e := syscall.Syscall(syscall.SYS_FCNTL, uintptr(c.fd), syscall.F_DUPFD_CLOEXEC, 0)
	c.decref()
	if e != 0 {
		busyConns.Add(-1)
		rx.noBusy = true
		return false
	}
	// Non-blocking already (a property of the open file, which the
	// duplicate shares), so os.NewFile registers it with Go's poller.
	f := os.NewFile(nfd, "tcp")
	rc, err := f.SyscallConn()
	if err != nil {
		_ = f.Close()
		busyConns.Add(-1)
		rx.noBusy = true
		return false
	}
	rx.rc = rc
	rx.fn = rx.read
	rx.busy.Store(f)
	// The deadline, from here on kept by SetReadDeadline too (one that
	// looked for the duplicate before it was there stored its deadline
	// before this reads it). A Close that came before found nothing to
	// close.
	if dl := c.rdl.Load(); dl != 0 {
		_ = f.SetReadDeadline(time.Unix(0, dl))
	} else {
		_ = f.SetReadDeadline(time.Time{})
	}
	if c.state.Load()&fdClosed != 0 {
		c.quitBusy(rx)
	}
	return true
}

// quitBusy closes the duplicate, if any, and reports whether there was
// one: the reader's, when it parks, or Close's, which so wakes a reader
// waiting in Go's poller.
func (c *fdConn) quitBusy(rx *readSide) bool {
	f := rx.busy.Swap(nil)
	if f == nil {
		return false
	}
	_ = f.Close()
	busyConns.Add(-1)
	return true
}

// read is rc.Read's callback: one read, done unless the socket is empty.
func (rx *readSide) read(fd uintptr) bool {
	for {
		rx.n, rx.err = sysRead(int(fd), rx.p)
		if rx.err != syscall.EINTR {
			return rx.err != syscall.EAGAIN
		}
	}
}

// readBusy is Read for a connection waiting through its duplicate.
func (c *fdConn) readBusy(rx *readSide, p []byte) (int, error) {
	rx.p = p
	err := rx.rc.Read(rx.fn)
	n, rerr := rx.n, rx.err
	rx.p, rx.err = nil, nil
	switch {
	case err != nil:
		if errors.Is(err, os.ErrDeadlineExceeded) {
			return 0, c.opError("read", os.ErrDeadlineExceeded)
		}
		return 0, c.opError("read", net.ErrClosed)
	case rerr != nil:
		return 0, c.opError("read", os.NewSyscallError("read", rerr))
	case n == 0:
		return 0, io.EOF
	}
	return n, nil
}

// sysRead and sysWrite are read(2) and write(2) on a non-blocking socket,
// which never block, so they skip the runtime's bookkeeping for a system
// call that might (syscall.Read's entersyscall). That bookkeeping also
// wakes the runtime's monitor thread (sysmon) from its deep sleep whenever
// a system call is the first thing a process does after all its threads
// were idle, and sysmon then polls every 20 µs for a millisecond or more. A
// broker serving a client that sends a little slower than it is served goes
// idle and wakes thousands of times a second: sysmon's thread took 15-20 %
// of the broker's CPU with a paho QoS 0 producer, and 0-5 % with these
// (docs/PERFORMANCE.md). Under the race detector they are syscall.Read and
// syscall.Write, whose annotations it needs.
// SysRead is sysRead for an adapter that reads a socket itself through its
// syscall.RawConn (AMQP's reader): one copy of the raw read and its race
// detector fallback. Errors are syscall.Errno.
func SysRead(fd int, p []byte) (int, error) { return sysRead(fd, p) }

func sysRead(fd int, p []byte) (int, error) {
	if raceEnabled {
		return syscall.Read(fd, p)
	}
	var ptr unsafe.Pointer
	if len(p) > 0 {
		ptr = unsafe.Pointer(&p[0])
	}
	r, _, e := syscall.RawSyscall(syscall.SYS_READ, uintptr(fd), uintptr(ptr), uintptr(len(p)))
	if e != 0 {
		return 0, e
	}
	return int(r), nil
}

func sysWrite(fd int, p []byte) (int, error) {
	if raceEnabled {
		return syscall.Write(fd, p)
	}
	var ptr unsafe.Pointer
	if len(p) > 0 {
		ptr = unsafe.Pointer(&p[0])
	}
	r, _, e := syscall.RawSyscall(syscall.SYS_WRITE, uintptr(fd), uintptr(ptr), uintptr(len(p)))
	if e != 0 {
		return 0, e
	}
	return int(r), nil
}

// detachedDone is the done function of a DetachedHandler serving c: it
// closes c and ends its tracking, once.
func (c *fdConn) detachedDone() {
	l := c.l.Swap(nil)
	if l == nil {
		return
	}
	_ = c.Close()
	l.s.rawDone(l)
}

// rawConns lists the connections s tracks (for Shutdown).
func rawConns(s *Server) []*fdConn {
	p := &idle.fd
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []*fdConn
	for _, c := range p.conns {
		if c != nil {
			if l := c.l.Load(); l != nil && l.s == s {
				out = append(out, c)
			}
		}
	}
	return out
}

// The states of a side's wait.
const (
	slotIdle    = iota
	slotReady   // the poller signalled while nobody waited
	slotWaiting // a goroutine waits on the side's channel
	slotParked  // the connection waits for input with no goroutine
)

const fdClosed = 1

// Errors as net.Conn callers expect them: errors.Is(err, net.ErrClosed),
// a net.Error whose Timeout() is true for a passed deadline.
func (c *fdConn) opError(op string, err error) error {
	return &net.OpError{Op: op, Net: "tcp", Err: err}
}

// incref marks a system call in progress; it fails once Close was called.
func (c *fdConn) incref() bool {
	for {
		s := c.state.Load()
		if s&fdClosed != 0 {
			return false
		}
		if c.state.CompareAndSwap(s, s+2) {
			return true
		}
	}
}

func (c *fdConn) decref() {
	if c.state.Add(^uint32(1)) == fdClosed { // -2: the last call after Close
		c.destroy()
	}
}

// destroy closes the descriptor; it runs once, when the connection is
// closed and no system call uses it.
func (c *fdConn) destroy() {
	idle.remove(c)
	_ = syscall.Close(int(c.fd))
}

// Read reads like net.Conn's Read; a wait for input honours the read
// deadline.
func (c *fdConn) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	if rx := c.rx.Load(); rx != nil && rx.busy.Load() != nil {
		return c.readBusy(rx, p)
	}
	for {
		if !c.incref() {
			return 0, c.opError("read", net.ErrClosed)
		}
		n, err := sysRead(int(c.fd), p)
		c.decref()
		switch {
		case err == nil && n > 0:
			return n, nil
		case err == nil:
			return 0, io.EOF
		case err == syscall.EINTR:
			continue
		case err != syscall.EAGAIN:
			return 0, c.opError("read", os.NewSyscallError("read", err))
		}
		if rx := c.readSide(); !rx.noBusy {
			if rx.waits++; rx.waits >= busyAfter && c.goBusy(rx) {
				return c.readBusy(rx, p)
			}
		}
		if err := c.waitRead(); err != nil {
			return 0, c.opError("read", err)
		}
	}
}

// waitRead waits until the descriptor may be readable, the deadline passes
// or the connection is closed; the caller then tries again.
func (c *fdConn) waitRead() error {
	dl := c.rdl.Load()
	var d time.Duration
	if dl != 0 {
		if d = time.Duration(dl - time.Now().UnixNano()); d <= 0 {
			return os.ErrDeadlineExceeded
		}
	}
	if c.rst.CompareAndSwap(slotReady, slotIdle) {
		return nil
	}
	if !idle.arm(c, false) {
		return net.ErrClosed
	}
	rch := c.readSide().ch
	if !c.rst.CompareAndSwap(slotIdle, slotWaiting) {
		c.rst.CompareAndSwap(slotReady, slotIdle)
		return nil
	}
	if dl == 0 {
		<-rch
		return nil
	}
	if c.t == nil {
		c.t = time.NewTimer(d)
	} else {
		c.t.Reset(d)
	}
	select {
	case <-rch:
		c.t.Stop()
	case <-c.t.C:
		if c.rst.CompareAndSwap(slotWaiting, slotIdle) {
			// Read again: the deadline may have been moved meanwhile.
			return nil
		}
		<-rch // the poller won: its token is on the way
	}
	return nil
}

// Write writes all of b like net.Conn's Write; a full socket waits for
// room, bounded by the write deadline.
func (c *fdConn) Write(b []byte) (int, error) {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	n := 0
	for n < len(b) {
		if !c.incref() {
			return n, c.opError("write", net.ErrClosed)
		}
		m, err := sysWrite(int(c.fd), b[n:])
		c.decref()
		if m > 0 {
			n += m
		}
		switch {
		case err == nil, err == syscall.EINTR:
			continue
		case err != syscall.EAGAIN:
			return n, c.opError("write", os.NewSyscallError("write", err))
		}
		if err := c.waitWrite(); err != nil {
			return n, c.opError("write", err)
		}
	}
	return n, nil
}

// writeNow writes what fits into the socket without waiting and reports
// how much did (Outbox's inline write). A failure shows on the next Write.
func (c *fdConn) writeNow(b []byte) int {
	if !c.wmu.TryLock() {
		return 0
	}
	defer c.wmu.Unlock()
	n := 0
	for n < len(b) {
		if !c.incref() {
			return n
		}
		m, err := sysWrite(int(c.fd), b[n:])
		c.decref()
		if m > 0 {
			n += m
		}
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			return n
		}
	}
	return n
}

// waitWrite is waitRead for the write side (caller holds wmu). Writes
// rarely wait, so the timer is not kept.
func (c *fdConn) waitWrite() error {
	dl := c.wdl.Load()
	var d time.Duration
	if dl != 0 {
		if d = time.Duration(dl - time.Now().UnixNano()); d <= 0 {
			return os.ErrDeadlineExceeded
		}
	}
	if c.wst.CompareAndSwap(slotReady, slotIdle) {
		return nil
	}
	if !idle.arm(c, true) {
		return net.ErrClosed
	}
	if c.wch == nil {
		c.wch = make(chan struct{}, 1)
	}
	if !c.wst.CompareAndSwap(slotIdle, slotWaiting) {
		c.wst.CompareAndSwap(slotReady, slotIdle)
		return nil
	}
	if dl == 0 {
		<-c.wch
		return nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-c.wch:
	case <-t.C:
		if c.wst.CompareAndSwap(slotWaiting, slotIdle) {
			return nil
		}
		<-c.wch
	}
	return nil
}

// signal is what the poller, Close and a moved deadline do to a side: wake
// its waiting goroutine, resume its parked connection, or leave a token for
// the next wait.
func (c *fdConn) signal(write, fromPoller bool) {
	st := &c.rst
	if write {
		st = &c.wst
	}
	for {
		switch st.Load() {
		case slotIdle:
			if !fromPoller || st.CompareAndSwap(slotIdle, slotReady) {
				return
			}
		case slotReady:
			return
		case slotWaiting:
			if st.CompareAndSwap(slotWaiting, slotIdle) {
				// Set before the side became waiting.
				if write {
					c.wch <- struct{}{}
				} else {
					c.rx.Load().ch <- struct{}{}
				}
				return
			}
		case slotParked:
			if st.CompareAndSwap(slotParked, slotIdle) {
				go c.resume(false)
				return
			}
		}
	}
}

// park waits for input without a goroutine: wake runs in a new goroutine
// once input arrives or the peer hangs up (false), once deadline passes
// (true; zero: never) or when the connection is closed (false: the read
// then fails). It reports false, with nothing started, when input is there
// already or the connection is closed. Only the reader parks, and it must
// not read until wake runs.
func (c *fdConn) park(deadline time.Time, wake func(timedOut bool)) bool {
	// A parked connection holds no timer, channel or duplicate of its own.
	if rx := c.rx.Swap(nil); rx != nil && c.quitBusy(rx) {
		// Our registration may have fired while the reader waited in Go's
		// poller, leaving a token for input read since: the level-triggered
		// arm below fires at once if input is really there.
		c.rst.CompareAndSwap(slotReady, slotIdle)
	}
	c.t = nil
	if c.rst.Load() == slotReady {
		return false
	}
	if !idle.arm(c, false) {
		return false
	}
	c.wake = wake
	// The deadline is kept where parkExpired finds it: the timer of an
	// earlier park may fire late, and must see this park's deadline.
	c.rdl.Store(unixNano(deadline))
	if !deadline.IsZero() {
		c.t = time.AfterFunc(time.Until(deadline), c.parkExpired)
	}
	if !c.rst.CompareAndSwap(slotIdle, slotParked) {
		if c.t != nil {
			c.t.Stop()
		}
		c.wake, c.t = nil, nil
		c.rst.CompareAndSwap(slotReady, slotIdle)
		return false
	}
	if c.state.Load()&fdClosed != 0 {
		// Closed before the connection parked: Close found nothing to wake.
		c.signal(false, false)
	}
	return true
}

// parkExpired is the parked wait's timer. The timer of an earlier park may
// fire late, so the deadline is checked against the current one.
func (c *fdConn) parkExpired() {
	if dl := c.rdl.Load(); dl == 0 || time.Now().UnixNano() < dl {
		return
	}
	if c.rst.CompareAndSwap(slotParked, slotIdle) {
		c.resume(true)
	}
}

// resume runs the parked connection's wake function; its caller moved the
// read side out of parked, so it runs once per park.
func (c *fdConn) resume(timedOut bool) {
	wake, t := c.wake, c.t
	c.wake, c.t = nil, nil
	if t != nil && !timedOut {
		t.Stop()
	}
	wake(timedOut)
}

// Close closes the connection: calls in progress and waits end with
// net.ErrClosed, a parked connection resumes, and the descriptor is closed
// once no system call uses it.
func (c *fdConn) Close() error {
	for {
		s := c.state.Load()
		if s&fdClosed != 0 {
			return c.opError("close", net.ErrClosed)
		}
		if c.state.CompareAndSwap(s, s|fdClosed) {
			// The duplicate first: it wakes a reader waiting in Go's
			// poller, and the open file must not outlive the descriptor
			// our poller knows it by.
			if rx := c.rx.Load(); rx != nil {
				c.quitBusy(rx)
			}
			if s == 0 {
				c.destroy()
			}
			break
		}
	}
	c.signal(false, false)
	c.signal(true, false)
	return nil
}

// CloseWrite shuts down the sending side, like net.TCPConn's.
func (c *fdConn) CloseWrite() error {
	if !c.incref() {
		return c.opError("shutdown", net.ErrClosed)
	}
	defer c.decref()
	if err := syscall.Shutdown(int(c.fd), syscall.SHUT_WR); err != nil {
		return c.opError("shutdown", os.NewSyscallError("shutdown", err))
	}
	return nil
}

// LocalAddr and RemoteAddr ask the kernel each time: a connection stores
// no addresses (adapters keep the remote address as a string).
func (c *fdConn) LocalAddr() net.Addr { return c.addr(syscall.Getsockname) }

func (c *fdConn) RemoteAddr() net.Addr { return c.addr(syscall.Getpeername) }

func (c *fdConn) addr(get func(int) (syscall.Sockaddr, error)) net.Addr {
	a := &net.TCPAddr{}
	if !c.incref() {
		return a
	}
	sa, err := get(int(c.fd))
	c.decref()
	if err != nil {
		return a
	}
	switch sa := sa.(type) {
	case *syscall.SockaddrInet4:
		a.IP, a.Port = net.IP(sa.Addr[:]).To16(), sa.Port
	case *syscall.SockaddrInet6:
		a.IP, a.Port = net.IP(sa.Addr[:]), sa.Port
		if sa.ZoneId != 0 {
			if ifc, err := net.InterfaceByIndex(int(sa.ZoneId)); err == nil {
				a.Zone = ifc.Name
			}
		}
	}
	return a
}

func (c *fdConn) SetDeadline(t time.Time) error {
	if err := c.SetReadDeadline(t); err != nil {
		return err
	}
	return c.SetWriteDeadline(t)
}

// SetReadDeadline moves the deadline of the waiting Read too, as net.Conn
// promises (it wakes to look at the new one).
func (c *fdConn) SetReadDeadline(t time.Time) error {
	if c.state.Load()&fdClosed != 0 {
		return c.opError("set", net.ErrClosed)
	}
	c.rdl.Store(unixNano(t))
	if rx := c.rx.Load(); rx != nil {
		if f := rx.busy.Load(); f != nil {
			_ = f.SetReadDeadline(t)
		}
	}
	if c.rst.Load() == slotWaiting {
		c.signal(false, false)
	}
	return nil
}

func (c *fdConn) SetWriteDeadline(t time.Time) error {
	if c.state.Load()&fdClosed != 0 {
		return c.opError("set", net.ErrClosed)
	}
	c.wdl.Store(unixNano(t))
	if c.wst.Load() == slotWaiting {
		c.signal(true, false)
	}
	return nil
}

func unixNano(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	if n := t.UnixNano(); n > 0 {
		return n
	}
	return 1 // long passed
}

// adoptTCP takes tc off Go's poller: its descriptor is duplicated (it stays
// non-blocking, a property of the open file the duplicate shares), tc is
// closed, and the duplicate is served by an fdConn. The socket options set
// at accept (keep-alive, no delay) belong to the socket and stay.
func adoptTCP(tc *net.TCPConn) (*fdConn, error) {
	if err := idle.fdInit(); err != nil {
		return nil, err
	}
	nfd, err := dupControl(tc)
	if err != nil {
		return nil, err
	}
	_ = tc.Close()
	c := &fdConn{fd: int32(nfd)}
	if err := idle.add(c); err != nil {
		_ = syscall.Close(nfd)
		return nil, err
	}
	return c, nil
}

// dupControl duplicates the descriptor of sc (close-on-exec).
func dupControl(sc syscall.Conn) (int, error) {
	rc, err := sc.SyscallConn()
	if err != nil {
		return -1, err
	}
	nfd := -1
	var dupErr error
	if err := rc.Control(func(fd uintptr) {
		r, _, e := syscall.Syscall(syscall.SYS_FCNTL, fd, syscall.F_DUPFD_CLOEXEC, 0)
		if e != 0 {
			dupErr = e
			return
		}
		nfd = int(r)
	}); err != nil {
		return -1, err
	}
	if dupErr != nil {
		return -1, os.NewSyscallError("fcntl", dupErr)
	}
	return nfd, nil
}

// poller watches fdConn descriptors: one epoll instance for input, one for
// room to write (a descriptor can be armed for each on its own), each with
// a goroutine blocked in epoll_wait. Registrations are one-shot and armed
// by a wait, so the poller thread wakes only for someone waiting.
//
// Its state lives in idlePoller (idle_linux.go), whose loop serves both.
type fdPoller struct {
	once     sync.Once
	err      error
	rfd, wfd int
	mu       sync.Mutex
	conns    []*fdConn // by descriptor
}

func (p *idlePoller) fdInit() error {
	f := &p.fd
	f.once.Do(func() {
		if f.rfd, f.err = syscall.EpollCreate1(syscall.EPOLL_CLOEXEC); f.err != nil {
			return
		}
		if f.wfd, f.err = syscall.EpollCreate1(syscall.EPOLL_CLOEXEC); f.err != nil {
			_ = syscall.Close(f.rfd)
			return
		}
		go p.loop(f.rfd, loopRead)
		go p.loop(f.wfd, loopWrite)
	})
	if f.err != nil {
		return os.NewSyscallError("epoll_create1", f.err)
	}
	return nil
}

// add registers c for input, armed: the first packet usually arrives
// before the first wait.
func (p *idlePoller) add(c *fdConn) error {
	fd := int(c.fd)
	p.fd.mu.Lock()
	if fd >= len(p.fd.conns) {
		n := max(2*len(p.fd.conns), fd+1, 1024)
		conns := make([]*fdConn, n)
		copy(conns, p.fd.conns)
		p.fd.conns = conns
	}
	p.fd.conns[fd] = c
	p.fd.mu.Unlock()
	ev := syscall.EpollEvent{Events: syscall.EPOLLIN | syscall.EPOLLRDHUP | epollOneShot, Fd: int32(fd)}
	if err := syscall.EpollCtl(p.fd.rfd, syscall.EPOLL_CTL_ADD, fd, &ev); err != nil {
		p.remove(c)
		return os.NewSyscallError("epoll_ctl", err)
	}
	return nil
}

func (p *idlePoller) remove(c *fdConn) {
	p.fd.mu.Lock()
	if int(c.fd) < len(p.fd.conns) && p.fd.conns[c.fd] == c {
		p.fd.conns[c.fd] = nil
	}
	p.fd.mu.Unlock()
}

// arm re-arms c's one-shot registration for input (or, with write, for
// room to write: registered by the first such wait, since few
// connections ever fill their socket). It fails once c is
// closed.
func (p *idlePoller) arm(c *fdConn, write bool) bool {
	if !c.incref() {
		return false
	}
	defer c.decref()
	fd := int(c.fd)
	if !write {
		ev := syscall.EpollEvent{Events: syscall.EPOLLIN | syscall.EPOLLRDHUP | epollOneShot, Fd: int32(fd)}
		return syscall.EpollCtl(p.fd.rfd, syscall.EPOLL_CTL_MOD, fd, &ev) == nil
	}
	ev := syscall.EpollEvent{Events: syscall.EPOLLOUT | epollOneShot, Fd: int32(fd)}
	err := syscall.EpollCtl(p.fd.wfd, syscall.EPOLL_CTL_MOD, fd, &ev)
	if err == syscall.ENOENT {
		err = syscall.EpollCtl(p.fd.wfd, syscall.EPOLL_CTL_ADD, fd, &ev)
	}
	return err == nil
}

// fdEvent hands an event of the fdConn pollers to its connection.
func (p *idlePoller) fdEvent(fd int, write bool) {
	p.fd.mu.Lock()
	var c *fdConn
	if fd < len(p.fd.conns) {
		c = p.fd.conns[fd]
	}
	p.fd.mu.Unlock()
	if c == nil {
		return
	}
	if write {
		c.signal(true, true)
	} else {
		c.signal(false, true)
	}
}

// rawListener accepts straight into fdConns (see Server.Serve): a
// duplicate of the listening socket, watched by our poller like a
// connection. Go's listener stays open beside it, unused, until both close.
type rawListener struct{ fc *fdConn }

// adoptListener makes a rawListener from tl.
func adoptListener(tl *net.TCPListener) (*rawListener, error) {
	if err := idle.fdInit(); err != nil {
		return nil, err
	}
	nfd, err := dupControl(tl)
	if err != nil {
		return nil, err
	}
	c := &fdConn{fd: int32(nfd)}
	if err := idle.add(c); err != nil {
		_ = syscall.Close(nfd)
		return nil, err
	}
	return &rawListener{fc: c}, nil
}

// accept returns the next connection, with the options ListenTCP gives
// accepted connections (no delay, keep-alive).
func (l *rawListener) accept() (net.Conn, error) {
	c := l.fc
	for {
		if !c.incref() {
			return nil, c.opError("accept", net.ErrClosed)
		}
		// No address is asked for: nothing keeps it (RemoteAddr asks the
		// kernel), and asking allocates.
		r, _, e := syscall.Syscall6(syscall.SYS_ACCEPT4, uintptr(c.fd), 0, 0, syscall.SOCK_NONBLOCK|syscall.SOCK_CLOEXEC, 0, 0)
		c.decref()
		switch e {
		case 0:
		case syscall.EINTR, syscall.ECONNABORTED:
			continue
		case syscall.EAGAIN:
			if err := c.waitRead(); err != nil {
				return nil, c.opError("accept", err)
			}
			continue
		default:
			return nil, c.opError("accept", os.NewSyscallError("accept4", e))
		}
		nfd := int(r)
		setAcceptedOptions(nfd)
		fc := &fdConn{fd: int32(nfd)}
		if err := idle.add(fc); err != nil {
			_ = syscall.Close(nfd)
			return nil, err
		}
		return fc, nil
	}
}

func (l *rawListener) close() error { return l.fc.Close() }

// setAcceptedOptions sets what net.ListenConfig would on an accepted
// connection (see ListenTCP). A failure leaves the connection usable.
func setAcceptedOptions(fd int) {
	_ = syscall.SetsockoptInt(fd, syscall.IPPROTO_TCP, syscall.TCP_NODELAY, 1)
	_ = syscall.SetsockoptInt(fd, syscall.SOL_SOCKET, syscall.SO_KEEPALIVE, 1)
	_ = syscall.SetsockoptInt(fd, syscall.IPPROTO_TCP, syscall.TCP_KEEPIDLE, int(keepAliveIdle/time.Second))
	_ = syscall.SetsockoptInt(fd, syscall.IPPROTO_TCP, syscall.TCP_KEEPINTVL, int(keepAliveInterval/time.Second))
	_ = syscall.SetsockoptInt(fd, syscall.IPPROTO_TCP, syscall.TCP_KEEPCNT, keepAliveCount)
}
