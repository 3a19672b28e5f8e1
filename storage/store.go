// Package storage defines the Store interface the core writes through, and the
// record types it carries. A store knows nothing of the core's objects: messages
// and bindings reach it as opaque bytes that the core encodes and decodes.
//
// The model: a message is stored once (OpAddMessage) and referenced by each
// durable queue that holds it (OpAddRef). Acknowledging removes a reference
// (OpAck); the core deletes the message (OpDeleteMessage) when its last
// reference goes. Bindings are named key/value records for everything else that
// must survive a restart: addresses, queues, durable subscriptions, MQTT sessions
// and retained messages.
package storage

import (
	"context"
	"errors"
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
)

var opNames = [...]string{"", "add-message", "delete-message", "add-ref", "ack", "update-ref", "put-binding", "delete-binding"}

func (k OpKind) String() string {
	if int(k) < len(opNames) && k > 0 {
		return opNames[k]
	}
	return "op?"
}

// BindingKind separates the namespaces of binding keys.
type BindingKind uint8

const (
	BindingAddress     BindingKind = iota + 1 // an address and its routing types
	BindingQueue                              // a durable queue or subscription, keyed by queue id
	BindingMQTTSession                        // a persistent MQTT session, keyed by client id
	BindingRetained                           // an MQTT retained message, keyed by topic
	BindingMeta                               // store-wide facts (format version, id high-water marks)
)

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
}

// Store records operations durably.
//
// Apply writes ops as one atomic unit: after a crash, recovery sees all of them
// or none. When sync is true, done is called only after the ops are durable
// (fsynced, or committed in the database); a store may coalesce many concurrent
// batches into one sync (group commit). When sync is false, done may be called
// as soon as the ops are accepted. done is called exactly once, from any
// goroutine, and must not block. Apply never retains ops or their Data after done
// is called unless it copied them.
//
// A store whose writes fail (disk full, read-only folder, database down) reports
// the error to done and to every later Apply until it is reopened: nothing is
// confirmed that was not written.
type Store interface {
	Apply(ops []Op, sync bool, done func(error))
	// Load replays the stored state into r once, before the first Apply.
	Load(ctx context.Context, r Recovery) error
	// Close flushes pending writes and releases the store.
	Close() error
}

// Recovery receives the stored state at start-up, in this order: every live
// binding, every live message, then every live reference in the order it was
// added (so queues rebuild in their original order).
type Recovery interface {
	Binding(kind BindingKind, key string, data []byte) error
	Message(id uint64, data []byte) error
	Ref(queueID, msgID uint64, deliveryCount uint32, scheduledAt int64) error
}

// ErrClosed is returned by Apply after Close.
var ErrClosed = errors.New("storage: store closed")

// Sync policies shared by the disk-based stores.
const (
	SyncAlways = "always" // one fsync per batch, no coalescing
	SyncBatch  = "batch"  // concurrent batches share one fsync (default)
	SyncNever  = "never"  // leave it to the OS; done is called after write()
)
