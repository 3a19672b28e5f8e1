package core

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
)

// Producer flow control. A send to an address over max-size-bytes under
// address-full-policy BLOCK is never waited for on the caller's goroutine:
// the core holds it in the address's admission line and routes it once space
// frees, calling its done callback then. The adapter's reader therefore keeps
// reading (the acks that free the space may be behind the send on the same
// connection) and turns "held" into its protocol's back-pressure by
// withholding the confirmation (RECEIPT, PUBACK, ProducerAck) or the next
// credit (AMQP), using Producer.Held and Producer.OnRelease.

// admission is an address's line of sends waiting for space, first come
// first served: while anyone waits, new sends to the address join the line,
// so one producer's messages to one address keep their order.
type admission struct {
	mu   sync.Mutex
	line []*waiter
	n    atomic.Int32 // len(line), read without the lock on the send path
	// admitting is set while the drainer routes a send it took from the
	// line: until that send is in its queues, a new send must queue behind
	// it rather than overtake it.
	admitting atomic.Bool
	draining  bool
}

// waiter is one held operation: a send, a transaction's commit.
type waiter struct {
	need int64
	run  func() // routes the held operation; called outside every lock
	// withdrawn answers a send taken out of the line unadmitted.
	withdrawn func(err error)
}

// waiting reports whether anything waits for space.
func (ad *admission) waiting() bool { return ad.n.Load() > 0 || ad.admitting.Load() }

// hold queues w on a and starts the line moving if there is room already
// (space may have freed between the caller's check and now).
func (a *address) hold(b *Broker, w *waiter) {
	ad := &a.adm
	ad.mu.Lock()
	ad.line = append(ad.line, w)
	ad.n.Store(int32(len(ad.line)))
	start := a.startDrainLocked(b)
	ad.mu.Unlock()
	b.holding(a)
	if start {
		go a.drain(b)
	}
}

// withdraw removes w if it has not been admitted yet, reporting whether it
// was still waiting.
func (a *address) withdraw(w *waiter) bool {
	ad := &a.adm
	ad.mu.Lock()
	defer ad.mu.Unlock()
	for i, x := range ad.line {
		if x == w {
			ad.line = append(ad.line[:i], ad.line[i+1:]...)
			ad.n.Store(int32(len(ad.line)))
			return true
		}
	}
	return false
}

// spaceFreed is called (under a queue lock, so it only starts a goroutine)
// when the address's size went down.
func (a *address) spaceFreed(b *Broker) {
	if !a.adm.waiting() {
		return
	}
	a.adm.mu.Lock()
	start := a.startDrainLocked(b)
	a.adm.mu.Unlock()
	if start {
		go a.drain(b)
	}
}

// startDrainLocked reports whether the caller must start the drainer: the
// line's head fits and no drainer runs. Caller holds adm.mu.
func (a *address) startDrainLocked(b *Broker) bool {
	ad := &a.adm
	if ad.draining || len(ad.line) == 0 || !a.admits(b, ad.line[0].need) {
		return false
	}
	ad.draining = true
	return true
}

// admits reports whether the line's head may go: it fits the address and
// the global budget, and the store is not behind (store pressure holds the
// line too, see resolve).
func (a *address) admits(b *Broker, need int64) bool {
	return !b.storePressure.Load() && a.fits(need) && b.globalFits(need) && !a.targetsFull()
}

// messageOverhead is what a held message costs beyond its Size (the
// Message and one ref), counted against the global budget so that it
// bounds memory, not only payload.
const messageOverhead = 512

// globalFits reports whether a message of size need fits the global budget.
func (b *Broker) globalFits(need int64) bool {
	return b.globalMax <= 0 || b.globalSize.Load()+need+messageOverhead <= b.globalMax
}

// GlobalSize is the bytes held by every address together, as counted against
// global-max-size (each message's size plus a fixed overhead).
func (b *Broker) GlobalSize() int64 { return b.globalSize.Load() }

// GlobalMax returns the broker-wide memory budget for messages
// (global-max-size); 0 means unlimited.
func (b *Broker) GlobalMax() int64 { return b.globalMax }

// globalWaiters are the addresses with a line, so that room made anywhere
// (the global budget, a limited queue) can restart the lines it stopped.
type globalWaiters struct {
	mu    sync.Mutex // a leaf: nothing is taken under it
	addrs map[*address]struct{}
	n     atomic.Int32 // len(addrs), read on every release without the lock
	// wakes counts requests to look at the lines; running is set while a
	// goroutine does, which loops until no request came in meanwhile.
	wakes   atomic.Uint64
	running atomic.Bool
}

// holding records that a has a line.
func (b *Broker) holding(a *address) {
	g := &b.globalWait
	g.mu.Lock()
	if g.addrs == nil {
		g.addrs = map[*address]struct{}{}
	}
	g.addrs[a] = struct{}{}
	g.n.Store(int32(len(g.addrs)))
	g.mu.Unlock()
}

// globalFreed is called (under a queue lock) when a message let go of its
// bytes: if lines wait and the budget has room, they are restarted.
func (b *Broker) globalFreed() {
	if b.globalMax > 0 && b.globalWait.n.Load() > 0 && b.globalFits(0) {
		b.wakeLines()
	}
}

// wakeLines restarts every waiting line from a goroutine (the caller may
// hold a queue lock).
func (b *Broker) wakeLines() {
	g := &b.globalWait
	if g.n.Load() == 0 {
		return
	}
	g.wakes.Add(1)
	if g.running.CompareAndSwap(false, true) {
		go b.wakeAll()
	}
}

// wakeAll offers the room made to every waiting line, and forgets the
// addresses whose line has emptied.
func (b *Broker) wakeAll() {
	g := &b.globalWait
	for {
		seen := g.wakes.Load()
		g.mu.Lock()
		addrs := make([]*address, 0, len(g.addrs))
		for a := range g.addrs {
			if a.adm.waiting() {
				addrs = append(addrs, a)
			} else {
				delete(g.addrs, a)
			}
		}
		g.n.Store(int32(len(g.addrs)))
		g.mu.Unlock()
		for _, a := range addrs {
			a.spaceFreed(b)
		}
		g.running.Store(false)
		if g.wakes.Load() == seen || !g.running.CompareAndSwap(false, true) {
			return
		}
	}
}

// targetsFull reports whether a queue the address routes to is at its
// limit with consumers attached (see Queue.SetLimits). It reads the cached
// route set without the broker lock (the caller may hold a queue lock): a
// stale set errs by one message at most.
func (a *address) targetsFull() bool {
	rs := a.routes.Load()
	if rs == nil {
		return false
	}
	for _, list := range [][]*Queue{rs.any, rs.multi} {
		for _, q := range list {
			if q.limited() && q.limFlag(limitHold) && q.full() && q.nConsumers.Load() > 0 {
				return true
			}
		}
	}
	return false
}

func (a *address) fits(need int64) bool {
	lim := a.settings.MaxSizeBytes
	return lim < 0 || a.size.Load()+need <= lim
}

// drain admits waiters in order while they fit. One goroutine per address,
// only while space is being handed out: a blocked producer holds none.
func (a *address) drain(b *Broker) {
	ad := &a.adm
	for {
		// The broker lock is read before adm.mu is taken, never under it:
		// adm.mu is taken under queue locks (spaceFreed), which rank below
		// the broker lock.
		b.mu.RLock()
		closed := b.closed
		b.mu.RUnlock()
		ad.mu.Lock()
		if len(ad.line) == 0 || (!closed && !a.admits(b, ad.line[0].need)) {
			ad.draining = false
			ad.mu.Unlock()
			return
		}
		w := ad.line[0]
		ad.line[0] = nil
		ad.line = ad.line[1:]
		ad.admitting.Store(true)
		ad.n.Store(int32(len(ad.line)))
		ad.mu.Unlock()
		// Routing adds the message's size before it returns, so the next
		// turn of the loop sees the space it took.
		w.run()
		ad.admitting.Store(false)
	}
}

// storeRelieved starts the lines that store pressure stopped.
func (b *Broker) storeRelieved() {
	b.mu.RLock()
	addrs := make([]*address, 0)
	for _, a := range b.addresses {
		if a.adm.waiting() {
			addrs = append(addrs, a)
		}
	}
	b.mu.RUnlock()
	for _, a := range addrs {
		a.spaceFreed(b)
	}
}

// failHeld hands every held operation to routing once more after Close:
// routing refuses them with ErrClosed, so no done callback is left hanging.
func (b *Broker) failHeld() {
	b.mu.RLock()
	addrs := make([]*address, 0, len(b.addresses))
	for _, a := range b.addresses {
		if a.adm.waiting() {
			addrs = append(addrs, a)
		}
	}
	b.mu.RUnlock()
	for _, a := range addrs {
		a.adm.mu.Lock()
		start := !a.adm.draining && len(a.adm.line) > 0
		a.adm.draining = a.adm.draining || start
		a.adm.mu.Unlock()
		if start {
			a.drain(b)
		}
	}
}

// Producer is one sender's handle on producer flow control (a STOMP or MQTT
// connection, an AMQP sender link, an OpenWire producer). Sends through it
// behave as Session.Send; in addition it counts the bytes of its sends held
// for space, so the adapter can bound them and turn them into its protocol's
// back-pressure.
type Producer struct {
	s *Session

	mu        sync.Mutex
	held      atomic.Int64 // written under mu, read without it on every send
	listeners []releaseListener
	waiting   map[*waiter]*address // held sends, to withdraw at Close
	closed    atomic.Bool
}

type releaseListener struct {
	limit int64
	fn    func()
}

// NewProducer returns a producer sending as the session.
func (s *Session) NewProducer() *Producer { return &Producer{s: s} }

// Send routes m. It never waits for space: with address-full-policy BLOCK a
// send to a full address (or to one with sends already waiting) is held,
// after the ones before it, and routed once space frees; done (may be nil)
// is called when the message is in its queues and durable, so possibly long
// after Send returned. If ctx ends while the message is held it is
// withdrawn and done gets an ErrAddressFull wrapping the context's error.
// Errors known at once (permissions, validation, FAIL policy) are returned
// and done is not called.
func (p *Producer) Send(ctx context.Context, m *Message, done func(error)) error {
	if p.closed.Load() {
		return ErrClosed
	}
	if err := p.s.prepareSend(m); err != nil {
		return err
	}
	return p.s.b.route(ctx, p.s, m, done, p)
}

// Close withdraws the producer's held sends (their done gets ErrClosed) and
// refuses further sends. An adapter calls it when its connection or link
// ends: nobody is left to confirm the held messages to.
func (p *Producer) Close() {
	p.mu.Lock()
	p.closed.Store(true)
	waiting := p.waiting
	p.waiting = nil
	p.mu.Unlock()
	for w, a := range waiting {
		if a.withdraw(w) {
			w.withdrawn(ErrClosed)
		}
	}
}

// Held is the size in bytes of this producer's sends waiting for space.
func (p *Producer) Held() int64 {
	return p.held.Load()
}

// OnRelease arranges for fn to be called once, from a core goroutine, when
// Held drops to limit or below. It returns false, without registering fn,
// when that is already the case.
func (p *Producer) OnRelease(limit int64, fn func()) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.held.Load() <= limit {
		return false
	}
	p.listeners = append(p.listeners, releaseListener{limit, fn})
	return true
}

// holdSend queues a send that found its address full. The held message is
// routed by the drainer with the address's limit already checked (pass).
func (b *Broker) holdSend(ctx context.Context, s *Session, m *Message, done func(error), p *Producer, a *address, need int64) {
	w := &waiter{need: need}
	var stop atomic.Pointer[func() bool]
	w.run = func() {
		if st := stop.Load(); st != nil {
			(*st)()
		}
		p.untrack(w, need)
		if err := b.routeAdmitted(ctx, s, m, done, p, a); err != nil {
			finish(done, err)
		}
	}
	w.withdrawn = func(err error) {
		p.untrack(w, need)
		finish(done, fmt.Errorf("%w: %q: held send withdrawn: %w", ErrAddressFull, a.name, err))
	}
	b.park(ctx, p, a, w, need, &stop)
}

// park puts w in a's line, counted for p, and withdraws it when ctx ends
// first. stop receives the context hook, which w.run cancels once admitted.
func (b *Broker) park(ctx context.Context, p *Producer, a *address, w *waiter, need int64, stop *atomic.Pointer[func() bool]) {
	p.track(w, a, need)
	a.hold(b, w)
	if ctx.Done() != nil {
		// Registered after hold: if the drainer admitted w first, withdraw
		// finds nothing and the callback does nothing.
		st := context.AfterFunc(ctx, func() {
			if a.withdraw(w) {
				w.withdrawn(context.Cause(ctx))
			}
		})
		stop.Store(&st)
	}
}

func (p *Producer) track(w *waiter, a *address, need int64) {
	if p == nil {
		return
	}
	p.mu.Lock()
	if p.waiting == nil {
		p.waiting = map[*waiter]*address{}
	}
	p.waiting[w] = a
	p.held.Add(need)
	p.mu.Unlock()
}

// untrack forgets an admitted or withdrawn send and calls the listeners
// whose limit Held has come down to.
func (p *Producer) untrack(w *waiter, need int64) {
	if p == nil {
		return
	}
	p.mu.Lock()
	delete(p.waiting, w)
	p.held.Add(-need)
	var fire []func()
	keep := p.listeners[:0]
	for _, l := range p.listeners {
		if p.held.Load() <= l.limit {
			fire = append(fire, l.fn)
		} else {
			keep = append(keep, l)
		}
	}
	p.listeners = keep
	p.mu.Unlock()
	for _, fn := range fire {
		fn()
	}
}

func finish(done func(error), err error) {
	if done != nil {
		done(err)
	}
}

// HeldSends is how many sends (and commits) wait for space on an address:
// for monitoring, and for tests that must know a producer is held.
func (b *Broker) HeldSends(address string) int {
	a := b.lookupAddress(address)
	if a == nil {
		return 0
	}
	return int(a.adm.n.Load())
}
