package transport

import "sync"

// BatchFlush lets a reader's batch write the output it caused on other
// connections. A producer's messages, handled by its connection's reader,
// are delivered by the core on that same goroutine into the consumers'
// output buffers; signalling each consumer's writer would start (or wake)
// a goroutine per burst and connection, the larger part of a broker's CPU
// per message when a client sends one message per segment. Instead, while
// any reader is inside a batch (input already buffered, handled without
// waiting), a connection with new output is listed here, and the first
// reader whose batch ends writes it, with one non-blocking write per
// connection, as an event-loop broker does; what does not fit in the socket
// goes to the writer goroutine as before.
//
// Which goroutine caused the output is not known (the core delivers on
// whatever goroutine sent or settled), hence "the first batch that ends".
// A reader must end its batch before anything that may wait, so the wait
// is bounded by the handling of one buffer's worth of input. An adapter
// keeps one BatchFlush per server.
type BatchFlush struct {
	mu     sync.Mutex
	active int // readers inside a batch
	list   []batchEntry
	spare  []batchEntry
}

// Flushable is a connection a batch's end writes.
type Flushable interface {
	// FlushBatched writes the connection's queued output; i is its place
	// among those listed at this batch's end (a wide fan-out may leave
	// all but the first few to their writers). The caller holds no lock.
	FlushBatched(i int)
}

type batchEntry struct {
	c      Flushable
	listed *bool
}

// Enter notes that a reader starts a batch.
func (f *BatchFlush) Enter() {
	f.mu.Lock()
	f.active++
	f.mu.Unlock()
}

// DeferLocked lists c to be written when a batch ends, if a reader is
// inside one, and reports whether it did; false: the caller signals c's
// writer itself. listed is c's own flag, guarded by f: it keeps c listed
// once. The caller holds c's lock (f's is taken under it).
func (f *BatchFlush) DeferLocked(c Flushable, listed *bool) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.active == 0 {
		return false
	}
	if !*listed {
		*listed = true
		f.list = append(f.list, batchEntry{c, listed})
	}
	return true
}

// Leave ends a reader's batch and writes the connections listed. The
// caller holds no connection's lock.
func (f *BatchFlush) Leave() {
	f.mu.Lock()
	f.active--
	list := f.list
	if len(list) == 0 {
		f.mu.Unlock()
		return
	}
	f.list, f.spare = f.spare[:0], nil
	for _, e := range list {
		*e.listed = false
	}
	f.mu.Unlock()
	for i, e := range list {
		e.c.FlushBatched(i)
		list[i] = batchEntry{}
	}
	f.mu.Lock()
	if f.spare == nil && cap(list) <= 1024 {
		f.spare = list[:0]
	}
	f.mu.Unlock()
}

// BatchSeat is one reader's place in a BatchFlush: Enter and Leave pair up
// however often the reader calls them, so a reader can end its batch
// before any wait and begin it again after. The reader's own.
type BatchSeat struct{ in bool }

// Enter begins the reader's batch in f, unless it is in one.
func (s *BatchSeat) Enter(f *BatchFlush) {
	if !s.in {
		s.in = true
		f.Enter()
	}
}

// Leave ends the reader's batch in f, if it is in one (BatchFlush.Leave).
func (s *BatchSeat) Leave(f *BatchFlush) {
	if s.in {
		s.in = false
		f.Leave()
	}
}
