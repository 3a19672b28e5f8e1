// Package storage defines the Store interface the core writes through, and the
// record types it carries. A store knows nothing of the core's objects: messages
// and bindings reach it as opaque bytes that the core encodes and decodes.
//
// The model: a message is stored once (OpAddMessage) and referenced by each
// durable queue that holds it (OpAddRef). Acknowledging removes a reference
// (OpAck); the core deletes the message (OpDeleteMessage) when its last
// reference goes. Bindings are named key/value records for everything else that
// must survive a restart: addresses, queues, durable subscriptions, duplicate
// ids, and the records protocol adapters keep (sessions, retained messages),
// whose kinds the adapters declare with RegisterKind: nothing here names a
// protocol.
package storage

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"
)

// OpKind names one store operation.
type OpKind uint8

const (
	OpAddMessage    OpKind = iota + 1 // MsgID, Data = encoded message
	OpDeleteMessage                   // MsgID
	OpAddRef                          // QueueID, MsgID, DeliveryCount, ScheduledAt
	OpAck                             // QueueID, MsgID: the reference is gone
	OpUpdateRef                       // QueueID, MsgID, DeliveryCount, ScheduledAt
	OpPutBinding                      // Binding, Key, Data (replaces an existing one)
	OpDeleteBinding                   // Binding, Key

	// Paging (see Pager). A paged reference is a message and its reference
	// to one queue that the store holds and the core does not: the store
	// keeps no per-reference state in memory for it until it is paged in.

	OpPageRef  // QueueID, MsgID, DeliveryCount, ScheduledAt, Data = encoded message
	OpPageIn   // QueueID, MsgID, Pos: the paged reference becomes an ordinary message and reference
	OpPageDrop // QueueID, Pos: every paged reference of the queue at or before Pos that is not paged in is gone
)

var opNames = [...]string{"", "add-message", "delete-message", "add-ref", "ack", "update-ref", "put-binding", "delete-binding",
	"page-ref", "page-in", "page-drop"}

func (k OpKind) String() string {
	if int(k) < len(opNames) && k > 0 {
		return opNames[k]
	}
	return "op?"
}

// BindingKind separates the namespaces of binding keys. Its numeric value is
// what the stores write, so a kind never changes its number.
type BindingKind uint8

// The core's kinds. 3 and 4 were the first adapter kinds (MQTT sessions and
// retained messages, now declared in protocols/mqtt); adapters take numbers
// from 3, 4 and FirstAdapterKind up through RegisterKind.
const (
	BindingAddress     BindingKind = 1 // an address and its routing types
	BindingQueue       BindingKind = 2 // a durable queue or subscription, keyed by queue name
	BindingMeta        BindingKind = 5 // store-wide facts (format version, id high-water marks)
	BindingDuplicateID BindingKind = 6 // a duplicate id remembered for an address

	// FirstAdapterKind is the lowest kind above the core's reserve (7-15)
	// that an adapter may register.
	FirstAdapterKind BindingKind = 16
)

var kinds = struct {
	sync.Mutex
	names map[BindingKind]string
}{names: map[BindingKind]string{
	BindingAddress: "address", BindingQueue: "queue", BindingMeta: "meta", BindingDuplicateID: "duplicate-id",
}}

// RegisterKind declares an adapter's binding kind under a name unique to the
// adapter ("mqtt.session") and returns it. It is meant for package-level
// variables: a kind the core owns, a reserved one, or one registered twice
// is a programming error and panics, so two adapters cannot share a key
// space by accident.
func RegisterKind(k BindingKind, name string) BindingKind {
	kinds.Lock()
	defer kinds.Unlock()
	if k != 3 && k != 4 && k < FirstAdapterKind {
		panic(fmt.Sprintf("storage: binding kind %d is reserved for the core", k))
	}
	if old, ok := kinds.names[k]; ok {
		panic(fmt.Sprintf("storage: binding kind %d registered twice (%q and %q)", k, old, name))
	}
	kinds.names[k] = name
	return k
}

func (k BindingKind) String() string {
	kinds.Lock()
	defer kinds.Unlock()
	if n, ok := kinds.names[k]; ok {
		return n
	}
	return fmt.Sprintf("kind-%d", uint8(k))
}

// Op is one operation. Only the fields its Kind names are meaningful.
type Op struct {
	Kind          OpKind
	Binding       BindingKind
	MsgID         uint64
	QueueID       uint64
	DeliveryCount uint32
	ScheduledAt   int64 // unix milliseconds; 0 = deliverable now
	Key           string
	Data          []byte
	Pos           uint64 // OpPageIn, OpPageDrop: a position ReadPaged reported
}

// Store records operations durably. Every implementation passes the contract
// suite in storage/storetest.
//
// Apply writes ops as one atomic unit: after a crash, recovery sees all of them
// or none. When sync is true, done is called only after the ops are durable
// (fsynced, or committed in the database); a store may coalesce many concurrent
// batches into one sync (group commit). When sync is false, done may be called
// as soon as the ops are accepted. done is called exactly once, from any
// goroutine, and must not block. Apply never retains ops or their Data after done
// is called unless it copied them.
//
// Apply never blocks its caller, which may hold locks: it queues and returns.
// A store whose queue grows past what it can write soon reports Pressure, and
// the broker withholds new work from producers (flow-control credit) until
// it clears; the store does not refuse or delay the calls it gets meanwhile.
//
// A store whose writes fail (disk full, read-only folder, database down) never
// confirms what it did not write: a batch it could not write fails, or waits
// until it is written. Health returns the error as soon as it is known, so the
// broker can refuse durable sends before it accepts them, and later Apply
// calls fail while it lasts. A store keeps trying and, once it can write
// again, Health returns to nil (with Notify): the broker resumes without a
// restart. A failure the store cannot recover from lasts until it is
// reopened.
type Store interface {
	Apply(ops []Op, sync bool, done func(error))
	// Load replays the stored state into r once, before the first Apply.
	Load(ctx context.Context, r Recovery) error
	// Close flushes pending writes and releases the store.
	Close() error

	// Health is nil while the store can write, else the error that stopped
	// it (Close makes it ErrClosed).
	Health() error
	// Pressure reports that more is queued than the store writes quickly:
	// admit less until it clears.
	Pressure() bool
	// Notify registers fn, called after Health or Pressure changes. It
	// runs on a store goroutine or an Apply caller's, with no store lock
	// held, and must not block or call Apply; it reads the new state with
	// Health and Pressure. Calls for successive changes may coalesce.
	Notify(fn func())
	// Stats is a snapshot for metrics and logs.
	Stats() Stats
}

// Stats are the figures every store reports. A field a store cannot know is
// zero.
type Stats struct {
	Messages int   // live messages
	Refs     int   // live references
	Paged    int64 // paged references not paged in or dropped (Pager)
	Bindings int   // live bindings
	Bytes    int64 // bytes the store occupies (files, or live data held)

	Pending     int           // Apply calls accepted and not yet done
	Applies     uint64        // Apply calls completed successfully
	Syncs       uint64        // syncs (fsync, commit) issued
	LastSync    time.Duration // how long the last sync took
	Errors      uint64        // Apply calls that reported an error
	Pressure    bool          // see Store.Pressure
	Unavailable error         // see Store.Health
}

// Recovery receives the stored state at start-up, in this order: every live
// binding, every live message, then every live reference in the order it was
// added (so queues rebuild in their original order). Message's data is
// valid only during the call (a store may hand out its own buffers or
// mapped files); Binding's may be kept. A store should report messages in
// the order of their first reference where it can (the journal does: the
// order they were written): the core finds a reference's message by
// walking forward from the last one found, and falls back to an index
// otherwise.
type Recovery interface {
	Binding(kind BindingKind, key string, data []byte) error
	Message(id uint64, data []byte) error
	Ref(queueID, msgID uint64, deliveryCount uint32, scheduledAt int64) error
}

// Pager is what a store that can hold queues larger than memory implements
// besides Store (the journal and PostgreSQL do; the memory store does too,
// for the core's tests). The core pages a queue's tail out: past its memory
// budget it writes new references of that queue as OpPageRef, and reads them
// back in order with ReadPaged as consumers drain the queue, turning each into
// an ordinary message and reference with OpPageIn (after which OpAck,
// OpUpdateRef and OpDeleteMessage apply to it as to any other).
//
// A paged reference carries its own copy of the message: MsgID is unique
// among messages and paged references (a message paged to two queues is two
// records under two ids, which the core allocates). OpPageRef, OpPageIn and
// OpPageDrop go through Apply with everything else, so a transaction that
// pages some references and stores others is still one atomic unit.
//
// Order: the paged references of one queue are kept in the order their
// OpPageRef ops were applied; positions increase in that order and are
// meaningful only to the store that reported them. The core pages a queue's
// references in (OpPageIn) in the order ReadPaged reported them, so a store
// may keep one paged-in mark per queue rather than a set.
type Pager interface {
	// ReadPaged calls fn with up to max paged references of queue q,
	// oldest first, starting after position after (0: from the first), and
	// skipping those paged in or dropped. It sees every OpPageRef whose
	// Apply has called done. p.Data is valid only during fn; an error from
	// fn stops the read and is returned. ReadPaged reads the disk or the
	// database and may take milliseconds: never call it holding a lock that
	// Apply's done callbacks need.
	ReadPaged(q uint64, after uint64, max int, fn func(p PagedRef) error) error
}

// PagedRef is one paged reference as ReadPaged reports it.
type PagedRef struct {
	Pos           uint64 // the store's position: pass it back in OpPageIn and OpPageDrop
	MsgID         uint64
	DeliveryCount uint32
	ScheduledAt   int64
	Data          []byte
}

// PagedRecovery is implemented by a Recovery that takes paged references. A
// store's Load reports, after every Ref, each queue that has paged
// references not paged in or dropped (how many, and the bytes of their
// message data), without reading them: the core reads them back with
// ReadPaged as it needs them. A Pager's Load fails when it has paged
// references to report and r does not implement PagedRecovery.
type PagedRecovery interface {
	Paged(queueID uint64, count int64, bytes int64) error
}

// RecoveryHint is implemented by a Recovery that prepares for what Load
// will report: a store that knows calls Expect once, before the first
// Message, with the number of messages to come (a broker recovering a
// million messages then sizes its tables once instead of growing them).
type RecoveryHint interface {
	Expect(messages int)
}

// ErrClosed is returned by Apply after Close.
var ErrClosed = errors.New("storage: store closed")

// Sync policies shared by the disk-based stores.
const (
	SyncAlways = "always" // one fsync per batch, no coalescing
	SyncBatch  = "batch"  // concurrent batches share one fsync (default)
	SyncNever  = "never"  // leave it to the OS; done is called after write()
)

// Notifier keeps the functions registered with Notify; a store embeds one to
// implement Store.Notify and calls Changed after each change of state.
type Notifier struct {
	mu  sync.Mutex
	fns []func()
}

// Notify implements Store.Notify.
func (n *Notifier) Notify(fn func()) {
	n.mu.Lock()
	n.fns = append(n.fns, fn)
	n.mu.Unlock()
}

// Changed calls every registered function. The caller must hold no lock the
// functions could need.
func (n *Notifier) Changed() {
	n.mu.Lock()
	fns := n.fns
	n.mu.Unlock()
	for _, fn := range fns {
		fn()
	}
}
