// Package core is Junction's destination core: addresses, queues,
// subscriptions, consumers, routing, address settings, redelivery, expiry and
// transactions. Protocol adapters translate their frames into calls on a
// Session; nothing here knows a protocol.
package core

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/junctionmq/junction/core/wildcard"
	"github.com/junctionmq/junction/internal/lockorder"
	"github.com/junctionmq/junction/storage"
)

// Config configures a Broker.
type Config struct {
	// Store persists durable state (required: the server opens the
	// configured one, tests a storage/memory store).
	Store storage.Store
	// AddressSettings are keyed by address pattern (`address-settings:` in YAML).
	AddressSettings map[string]*AddressSettings
	Logger          *slog.Logger
	// MaxMessageSize bounds one message's body and properties (default 100 MiB).
	MaxMessageSize int
	// ReaperInterval is how often expired messages are swept (default 1s).
	ReaperInterval time.Duration
	// Now replaces the clock in tests.
	Now func() time.Time
	// GlobalMaxSize is the memory budget of every address's messages
	// together, in bytes (Artemis' global-max-size): over it, each address
	// applies its address-full-policy. 0 or negative: unlimited (the server
	// passes a default derived from the machine's memory).
	GlobalMaxSize int64
	// SlowConsumerTimeout closes the consumers of a queue that stayed at
	// its limit (Queue.SetLimits, so sends to it were held or dropped) that
	// long, with ErrSlowConsumer; the queue and its messages stay (default
	// 30 s; negative: never).
	SlowConsumerTimeout time.Duration
	// MaxAddresses and MaxQueues bound how many addresses and queues
	// clients can make the broker create (0: DefaultMaxAddresses,
	// DefaultMaxQueues; negative: unlimited). Recovery and dead-letter or
	// expiry resources are not refused.
	MaxAddresses, MaxQueues int
	// Hooks are the plugin points (hooks.go); the zero value has none.
	Hooks Hooks

	// pageLow and pageBatch replace pageLowWater and pageBatch in tests, so
	// that a few hundred messages exercise several reads.
	pageLow, pageBatch int
}

// The default caps on addresses and queues: an empty one costs well under
// 1 KiB (docs/PERFORMANCE.md), so each cap is about 100 MB at most.
const (
	DefaultMaxAddresses = 100_000
	DefaultMaxQueues    = 100_000
)

// Broker is the destination core.
type Broker struct {
	cfg      Config
	store    storage.Store
	settings *SettingsRepository
	log      *slog.Logger
	now      func() time.Time
	hooks    Hooks

	mu        lockorder.RWMutex[lockorder.BrokerRank]
	addresses map[string]*address
	queues    map[string]*Queue
	queueByID map[uint64]*Queue
	bindings  wildcard.Trie[*Queue] // multicast queues by address pattern
	routeGen  atomic.Uint64
	records   map[storage.BindingKind]map[string][]byte
	closed    bool
	// sessions are the open sessions, for Revalidate and operators. A plain
	// map under its own leaf lock: a sync.Map entry costs about 110 bytes,
	// a map entry about 30, and every idle connection holds one.
	sessionsMu sync.Mutex
	sessions   map[uint64]*Session

	// The store's state as of its last Notify, read on every durable send
	// without a call into the store. storeMu orders the updates, so the
	// last one reads the latest state.
	storeMu       sync.Mutex
	storeErr      atomic.Pointer[error]
	storePressure atomic.Bool
	writeFailLog  atomic.Int64 // unix ns of the last "store write failed" line
	limitLogged   atomic.Int64 // unix ms of the last cap warning

	globalMax  int64        // Config.GlobalMaxSize, 0: unlimited
	globalSize atomic.Int64 // bytes held by every address, overhead included
	globalWait globalWaiters

	nextMsgID     atomic.Uint64
	nextQueueID   atomic.Uint64
	nextSessionID atomic.Uint64
	nextConsumer  atomic.Uint64

	stats struct {
		sent, routed, dropped, duplicates, expired, deadLettered atomic.Uint64
	}

	moveLogState
	pendingBinds pendingBindings

	// pager is the store's Pager, nil when it has none (address-full-policy
	// PAGE is then refused by New). pageSem bounds the page-in reads that
	// run at once across every queue (paging.go).
	pager   storage.Pager
	pageSem chan struct{}
	// paging is set once a queue may page (a PAGE address setting, or a
	// paged tail recovered); pageOrder orders paged sends against the drop
	// of a purge (paging.go).
	paging    atomic.Bool
	pageOrder pageOrder
	// pageRun counts the page-in goroutines, which Close waits for (one
	// must not page in after the store is closed, or reopened for another
	// broker); pageStop, under pageRunMu, refuses new ones once it does.
	pageRunMu sync.Mutex
	pageStop  bool
	pageRun   sync.WaitGroup

	stop chan struct{}
	wg   sync.WaitGroup
}

// address is an address's runtime state.
type address struct {
	name        string
	anycast     bool
	multicast   bool
	autoCreated bool
	settings    *Settings
	size        atomic.Int64
	routes      atomic.Pointer[routeSet]
	dups        atomic.Pointer[dupCache] // nil until the first duplicate id

	adm admission // sends waiting for space under address-full-policy BLOCK
}

type routeSet struct {
	gen   uint64
	any   []*Queue // anycast queues bound to this exact name
	multi []*Queue // multicast queues whose pattern matches
	// plain: no queue in multi is left out for a message's sake (no
	// selector, no no-local, no no-dollar on a $ address), so a send can
	// take multi itself as its targets (see resolve).
	plain bool
}

// New creates a broker. Call Start before use.
func New(cfg Config) (*Broker, error) {
	if cfg.Store == nil {
		return nil, errors.New("core: Config.Store is required")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.MaxMessageSize <= 0 {
		cfg.MaxMessageSize = 100 << 20
	}
	if cfg.ReaperInterval <= 0 {
		cfg.ReaperInterval = time.Second
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.SlowConsumerTimeout == 0 {
		cfg.SlowConsumerTimeout = 30 * time.Second
	}
	if cfg.MaxAddresses == 0 {
		cfg.MaxAddresses = DefaultMaxAddresses
	}
	if cfg.MaxQueues == 0 {
		cfg.MaxQueues = DefaultMaxQueues
	}
	if cfg.pageLow <= 0 {
		cfg.pageLow = pageLowWater
	}
	if cfg.pageBatch <= 0 {
		cfg.pageBatch = pageBatch
	}
	repo, err := NewSettingsRepository(cfg.AddressSettings)
	if err != nil {
		return nil, err
	}
	pager, _ := cfg.Store.(storage.Pager)
	pages := false
	for pattern, a := range cfg.AddressSettings {
		if a != nil && a.AddressFullPolicy != nil && strings.EqualFold(*a.AddressFullPolicy, "PAGE") {
			if pager == nil {
				return nil, fmt.Errorf("address-settings %q: address-full-policy PAGE needs a store that pages (journal or postgres); this store (%T) cannot", pattern, cfg.Store)
			}
			pages = true
		}
	}
	b := &Broker{
		cfg: cfg, store: cfg.Store, settings: repo, log: cfg.Logger, now: cfg.Now, hooks: cfg.Hooks, globalMax: max(cfg.GlobalMaxSize, 0),
		addresses: map[string]*address{}, queues: map[string]*Queue{}, queueByID: map[uint64]*Queue{},
		records: map[storage.BindingKind]map[string][]byte{}, stop: make(chan struct{}),
		pager: pager, pageSem: make(chan struct{}, pageReaders),
	}
	// Message ids stay unique across restarts without a stored counter: they
	// start from the clock (2^20 ids per millisecond of downtime).
	b.nextMsgID.Store(uint64(cfg.Now().UnixMilli()) << 20)
	b.paging.Store(pages)
	b.store.Notify(b.storeChanged)
	return b, nil
}

// storeChanged caches the store's health and pressure; the store calls it
// on every change, from its own goroutines or an Apply caller's.
func (b *Broker) storeChanged() {
	b.storeMu.Lock()
	defer b.storeMu.Unlock()
	err := b.store.Health()
	old := b.storeErr.Load()
	if err == nil {
		b.storeErr.Store(nil)
	} else {
		b.storeErr.Store(&err)
	}
	pressed := b.store.Pressure()
	was := b.storePressure.Swap(pressed)
	if was && !pressed {
		// Held sends go on from their own goroutine: the store may call
		// this from an Apply caller's.
		go b.storeRelieved()
	}
	switch {
	case err != nil && old == nil && !errors.Is(err, storage.ErrClosed):
		b.log.Error("store cannot write: durable sends are refused until it can", "err", err)
	case err == nil && old != nil:
		b.log.Info("store writes again: durable sends resume")
	}
	if pressed != was {
		b.log.Debug("store pressure", "on", pressed)
	}
}

// storeUnavailable returns an error wrapping ErrStoreUnavailable when the
// store cannot write: a durable send or commit is refused at once rather
// than accepted and then not stored.
func (b *Broker) storeUnavailable() error {
	if p := b.storeErr.Load(); p != nil {
		return fmt.Errorf("%w: %w", ErrStoreUnavailable, *p)
	}
	return nil
}

// StoreHealth is nil while the store writes, else why it cannot.
func (b *Broker) StoreHealth() error {
	if p := b.storeErr.Load(); p != nil {
		return *p
	}
	return nil
}

// StorePressure reports that the store has more queued than it writes
// quickly; producer flow control withholds credit while it lasts.
func (b *Broker) StorePressure() bool { return b.storePressure.Load() }

// StoreStats returns the store's figures for metrics.
func (b *Broker) StoreStats() storage.Stats { return b.store.Stats() }

func (b *Broker) nowMs() int64 { return b.now().UnixMilli() }

// Settings returns the resolved address settings for an address.
func (b *Broker) Settings(addr string) *Settings { return b.settings.Resolve(addr) }

// Start recovers the stored state and starts the expiry reaper.
func (b *Broker) Start(ctx context.Context) (RecoveryStats, error) {
	st, err := b.recover(ctx)
	if err != nil {
		return st, err
	}
	b.wg.Add(1)
	go b.reaper()
	return st, nil
}

// Close stops the broker and closes the store. Sessions should be closed first
// (the adapters do), so their deliveries return to the queues.
func (b *Broker) Close() error {
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return nil
	}
	b.closed = true
	queues := make([]*Queue, 0, len(b.queues))
	for _, q := range b.queues {
		queues = append(queues, q)
	}
	b.mu.Unlock()
	close(b.stop)
	b.wg.Wait()
	b.pageRunMu.Lock()
	b.pageStop = true
	b.pageRunMu.Unlock()
	b.pageRun.Wait()
	b.flushBindings()
	b.failHeld()
	for _, q := range queues {
		q.mu.Lock()
		if q.timer != nil {
			q.timer.Stop()
		}
		q.mu.Unlock()
	}
	return b.store.Close()
}

func (b *Broker) reaper() {
	defer b.wg.Done()
	t := time.NewTicker(b.cfg.ReaperInterval)
	defer t.Stop()
	sweeps := 0
	for {
		select {
		case <-b.stop:
			return
		case <-t.C:
		}
		now := b.nowMs()
		b.mu.RLock()
		queues := make([]*Queue, 0, len(b.queues))
		for _, q := range b.queues {
			queues = append(queues, q)
		}
		b.mu.RUnlock()
		for _, q := range queues {
			q.reap(now)
			b.checkSlow(q, now)
		}
		sweeps++
		if sweeps%sweepEvery == 0 {
			b.sweepAddresses()
		}
	}
}

// checkSlow closes the consumers of a queue that has stayed at its limit
// for SlowConsumerTimeout: they do not keep up, and while they stay,
// publishers wait (or lose messages) for them. Only the reaper calls it.
func (b *Broker) checkSlow(q *Queue, now int64) {
	if b.cfg.SlowConsumerTimeout < 0 || !q.limited() || !q.full() || q.nConsumers.Load() == 0 {
		q.fullSince = 0
		return
	}
	if q.fullSince == 0 {
		q.fullSince = now
		return
	}
	if now-q.fullSince < b.cfg.SlowConsumerTimeout.Milliseconds() {
		return
	}
	q.fullSince = 0
	q.mu.Lock()
	consumers := slices.Clone(q.consumers)
	q.mu.Unlock()
	st := q.Stats()
	b.log.Warn("closing slow consumers: their queue stayed at its limit", "queue", q.info.Name,
		"consumers", len(consumers), "messages", st.Messages, "in-flight", st.InFlight, "for", b.cfg.SlowConsumerTimeout)
	for _, c := range consumers {
		c.closeFor(fmt.Errorf("%w: queue %q stayed at its limit for %v", ErrSlowConsumer, q.info.Name, b.cfg.SlowConsumerTimeout))
	}
}

// sweepAddresses deletes auto-created addresses with nothing bound to them
// and nothing held. It runs from the reaper every sweepEvery rather than on
// every unsubscribe, so that subscribing and unsubscribing in a loop does
// not re-create the address each time (a send to an address nobody listens
// to creates nothing any more, see resolve). Candidates are found under the
// read lock and checked again under the write lock, so the sweep of many
// addresses does not stop sends for its whole length.
func (b *Broker) sweepAddresses() {
	b.mu.RLock()
	var idle []string
	for name, a := range b.addresses {
		if b.sweepableLocked(name, a) {
			idle = append(idle, name)
		}
	}
	b.mu.RUnlock()
	if len(idle) == 0 {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, name := range idle {
		if a := b.addresses[name]; a != nil && b.sweepableLocked(name, a) {
			delete(b.addresses, name)
			if h := b.hooks.AddressDestroyed; h != nil {
				h(name)
			}
		}
	}
}

// sweepEvery is how many reaper ticks pass between address sweeps.
const sweepEvery = 5

func (b *Broker) sweepableLocked(name string, a *address) bool {
	if !a.autoCreated || !a.settings.AutoDeleteAddresses || a.size.Load() != 0 || a.adm.waiting() {
		return false
	}
	if d := a.dups.Load(); d != nil && d.len() > 0 {
		return false // keep the duplicate-id window
	}
	if _, ok := b.queues[name]; ok {
		return false
	}
	return !b.hasRoutesLocked(a)
}

// hasRoutesLocked reports whether a message to a would reach a queue. Unlike
// routesLocked it caches nothing: the sweep asks about every auto-created
// address every few seconds, and caching a route set on each (about 80
// bytes) made an idle address cost more once swept than when created.
// Caller holds b.mu (read or write).
func (b *Broker) hasRoutesLocked(a *address) bool {
	if rs := a.routes.Load(); rs != nil && rs.gen == b.routeGen.Load() {
		return len(rs.any) > 0 || len(rs.multi) > 0
	}
	if q := b.queues[a.name]; q != nil && q.info.RoutingType == Anycast {
		return true
	}
	found := false
	b.bindings.Match(a.name, func(*Queue) { found = true })
	return found
}

// RecoveryStats report what Start loaded from the store.
type RecoveryStats struct {
	Queues   int
	Messages int
	Refs     int
	Paged    int64 // references left in the store, paged (address-full-policy PAGE)
	Duration time.Duration
}

// Stats are broker-wide counters.
type Stats struct {
	Sent, Routed, Dropped, Duplicates, Expired, DeadLettered uint64
	Addresses, Queues                                        int
}

// Stats returns broker-wide counters.
func (b *Broker) Stats() Stats {
	b.mu.RLock()
	na, nq := len(b.addresses), len(b.queues)
	b.mu.RUnlock()
	return Stats{
		Sent: b.stats.sent.Load(), Routed: b.stats.routed.Load(), Dropped: b.stats.dropped.Load(),
		Duplicates: b.stats.duplicates.Load(), Expired: b.stats.expired.Load(), DeadLettered: b.stats.deadLettered.Load(),
		Addresses: na, Queues: nq,
	}
}

// Queue returns a queue by name.
func (b *Broker) Queue(name string) (*Queue, bool) {
	b.mu.RLock()
	defer b.mu.RUnlock()
	q, ok := b.queues[name]
	return q, ok
}

// Queues returns every queue.
func (b *Broker) Queues() []*Queue {
	b.mu.RLock()
	defer b.mu.RUnlock()
	out := make([]*Queue, 0, len(b.queues))
	for _, q := range b.queues {
		out = append(out, q)
	}
	return out
}

// AddressInfo describes an address.
type AddressInfo struct {
	Name        string
	Anycast     bool
	Multicast   bool
	AutoCreated bool
	Size        int64
}

// Address returns an address's description.
func (b *Broker) Address(name string) (AddressInfo, bool) {
	b.mu.RLock()
	defer b.mu.RUnlock()
	a, ok := b.addresses[name]
	if !ok {
		return AddressInfo{}, false
	}
	return AddressInfo{Name: a.name, Anycast: a.anycast, Multicast: a.multicast, AutoCreated: a.autoCreated, Size: a.size.Load()}, true
}

// CreateAddress creates (or extends with a routing type) an address.
func (b *Broker) CreateAddress(name string, rt RoutingType) error {
	if err := validName(name); err != nil {
		return err
	}
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return ErrClosed
	}
	if err := b.roomLocked(b.addresses[name] == nil, false); err != nil {
		b.mu.Unlock()
		return err
	}
	a := b.ensureAddressLocked(name, rt, false)
	a.autoCreated = false
	// An address created on purpose survives restarts.
	data, _ := json.Marshal(AddressInfo{Name: name, Anycast: a.anycast, Multicast: a.multicast})
	b.storeBindingLocked(storage.Op{Kind: storage.OpPutBinding, Binding: storage.BindingAddress, Key: name, Data: data})
	b.mu.Unlock()
	b.flushBindings()
	return nil
}

func validName(name string) error {
	if name == "" || len(name) > 4096 {
		return fmt.Errorf("%w: %q", ErrInvalidName, name)
	}
	return nil
}

// roomLocked refuses, with ErrResourceLimit, a client's request that would
// create one more address (newAddr) or queue (newQueue) beyond the caps.
// Caller holds b.mu.
func (b *Broker) roomLocked(newAddr, newQueue bool) error {
	if lim := b.cfg.MaxAddresses; newAddr && lim > 0 && len(b.addresses) >= lim {
		b.limitLog("address", lim)
		return fmt.Errorf("%w: max-addresses %d", ErrResourceLimit, lim)
	}
	if lim := b.cfg.MaxQueues; newQueue && lim > 0 && len(b.queues) >= lim {
		b.limitLog("queue", lim)
		return fmt.Errorf("%w: max-queues %d", ErrResourceLimit, lim)
	}
	return nil
}

// limitLog warns that a cap refused something, at most once a minute: a
// client hammering the cap must not flood the log.
func (b *Broker) limitLog(what string, lim int) {
	now := b.nowMs()
	last := b.limitLogged.Load()
	if now-last < 60_000 || !b.limitLogged.CompareAndSwap(last, now) {
		return
	}
	b.log.Warn("refusing to create another "+what+": the cap is reached", "limit", lim)
}

func (b *Broker) ensureAddressLocked(name string, rt RoutingType, auto bool) *address {
	a := b.addresses[name]
	if a == nil {
		a = &address{name: name, autoCreated: auto, settings: b.settings.Resolve(name)}
		b.addresses[name] = a
		b.routeGen.Add(1)
		if h := b.hooks.AddressCreated; h != nil {
			h(name)
		}
	}
	switch rt {
	case Anycast:
		a.anycast = true
	case Multicast:
		a.multicast = true
	}
	return a
}

// routesLocked returns the queues a message to a should reach. Caller holds
// b.mu (read or write); the result is cached on the address until bindings
// change.
func (b *Broker) routesLocked(a *address) *routeSet {
	gen := b.routeGen.Load()
	if rs := a.routes.Load(); rs != nil && rs.gen == gen {
		return rs
	}
	rs := &routeSet{gen: gen}
	if q := b.queues[a.name]; q != nil && q.info.RoutingType == Anycast {
		rs.any = append(rs.any, q)
	}
	seen := map[*Queue]bool{}
	rs.plain = true
	b.bindings.Match(a.name, func(q *Queue) {
		if !seen[q] {
			seen[q] = true
			rs.multi = append(rs.multi, q)
			if q.filter != nil || q.info.NoLocal || q.info.NoDollar && strings.HasPrefix(a.name, "$") {
				rs.plain = false
			}
		}
	})
	a.routes.Store(rs)
	return rs
}

// released is called when the last queue lets go of a message.
func (b *Broker) released(m *Message) {
	a := m.addr
	if a == nil {
		return
	}
	if a.size.Add(-int64(m.Size())) < 0 {
		a.size.Store(0)
	}
	b.globalSize.Add(-int64(m.Size()) - messageOverhead)
	a.spaceFreed(b)
	b.globalFreed()
}

func (b *Broker) lookupAddress(name string) *address {
	b.mu.RLock()
	a := b.addresses[name]
	b.mu.RUnlock()
	return a
}

// applyAsync writes operations whose completion nobody waits for (acks,
// delivery counts). A failure is logged: the store reports it to every later
// synchronous write too, so no send is confirmed after it.
func (b *Broker) applyAsync(ops []storage.Op) {
	b.apply(ops, false, func(err error) {
		if err != nil {
			b.storeWriteFailed(err)
		}
	})
}

// storeWriteFailed logs a failed store write that the store's state does
// not explain already: a store that cannot write says so once, through
// Notify (storeChanged), rather than once per operation it refuses.
func (b *Broker) storeWriteFailed(err error) {
	if errors.Is(err, storage.ErrClosed) || b.storeErr.Load() != nil {
		return
	}
	now := time.Now().UnixNano()
	last := b.writeFailLog.Load()
	if now-last < int64(writeFailLogEvery) || !b.writeFailLog.CompareAndSwap(last, now) {
		return
	}
	b.log.Error("store write failed", "err", err)
}

// writeFailLogEvery spaces the log lines of failed writes of a store that
// still reports itself healthy (a batch refused alone).
const writeFailLogEvery = 10 * time.Second

// pendingBindings are binding records (queues, addresses) created under the
// broker lock. The store may block (back-pressure), so they are not written
// there: they wait here and are handed to the store, in order, before any
// later batch (see apply), so a ref never reaches the store ahead of its
// queue's binding.
type pendingBindings struct {
	mu  sync.Mutex // guards ops and waiters; held only to append or take
	ops []storage.Op
	// waiters want to know when the records queued with them are durable
	// (SubscribeOptions.Stored): the batch that carries them is synced.
	waiters []func(error)
	n       atomic.Int64                              // ops queued and not yet handed to the store
	flush   lockorder.Mutex[lockorder.StoreFlushRank] // one hand-over at a time, in order
}

// storeBindingLocked queues a binding record; stored, when not nil, is
// called once it is durable (or failed). Caller holds b.mu.
func (b *Broker) storeBindingLocked(op storage.Op, stored ...func(error)) {
	pb := &b.pendingBinds
	pb.mu.Lock()
	pb.ops = append(pb.ops, op)
	pb.waiters = append(pb.waiters, stored...)
	pb.n.Add(1)
	pb.mu.Unlock()
}

// bindingsFailed handles a batch of binding records the store did not take.
// A durable queue's record is queued again while the queue exists, so the
// next write stores it: otherwise a subscription whose creation was refused
// would still be found in memory, and confirmed to the next client that
// attaches to it, and then be gone after a restart.
func (b *Broker) bindingsFailed(ops []storage.Op, err error) {
	b.storeWriteFailed(err)
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, op := range ops {
		if op.Kind != storage.OpPutBinding || op.Binding != storage.BindingQueue {
			continue
		}
		if q := b.queues[op.Key]; q != nil && q.info.Durable {
			b.storeBindingLocked(op)
		}
	}
}

// flushBindings hands the queued binding records to the store. It returns
// once every record queued before the call is with the store, so a batch
// applied afterwards follows them. Call it with no lock held.
func (b *Broker) flushBindings() {
	pb := &b.pendingBinds
	if pb.n.Load() == 0 {
		return
	}
	pb.flush.Lock()
	defer pb.flush.Unlock()
	pb.mu.Lock()
	ops, waiters := pb.ops, pb.waiters
	pb.ops, pb.waiters = nil, nil
	pb.mu.Unlock()
	if len(ops) == 0 {
		return
	}
	pb.n.Add(-int64(len(ops)))
	b.store.Apply(ops, len(waiters) > 0, func(err error) {
		if err != nil && !errors.Is(err, storage.ErrClosed) {
			// Not under pb.flush: the store may call back from Apply.
			go b.bindingsFailed(ops, err)
		}
		for _, w := range waiters {
			w(storeErr(err))
		}
	})
}

// apply is every store write of the core: queued binding records first.
// Call it with no lock held.
func (b *Broker) apply(ops []storage.Op, sync bool, done func(error)) {
	b.flushBindings()
	b.store.Apply(ops, sync, done)
}

func itoa(i int) string { return strconv.Itoa(i) }
