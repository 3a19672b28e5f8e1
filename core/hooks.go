package core

import (
	"errors"
	"fmt"
	"time"
)

// Hooks are the broker's plugin points, named after Artemis' broker plugin
// hooks (ActiveMQServerPlugin). Every field is optional: a nil hook costs
// one pointer test where it would run, so a broker without plugins pays
// nothing else. The plugins package builds a Hooks from the configured
// plugins; the core never knows a plugin.
//
// Hooks marked "under a queue lock" run on the goroutine that holds the
// queue's lock, like ConsumerOptions.Handler: they must return quickly and
// must not call back into the core (no Send, Ack, Close, Stats). The others
// run with no core lock held.
type Hooks struct {
	// ConnectionCreated is told about a client connection once it has
	// logged in; ConnectionDestroyed once, when it ends. The core does not
	// see connections: protocols/access calls these for every adapter.
	ConnectionCreated   func(ConnectionInfo)
	ConnectionDestroyed func(ConnectionInfo)

	// BeforeSend sees a message a client sends (Session.Send,
	// Producer.Send, Tx.Send), after the send permission was granted and
	// before it is validated and routed. It may change the message (it is
	// not shared yet); an error refuses the send: the client gets it as a
	// *RejectedError, which adapters report natively like a permission
	// denial. No lock held.
	BeforeSend func(s *Session, m *Message) error
	// AfterSend is told what became of a client's message, before it
	// becomes visible in its queues (so before any delivery of it): the
	// queues it was put on (none when it was dropped: no route, a
	// duplicate, the DROP policy), or the store's error. For a durable
	// message it runs on the store's completion goroutine once the message
	// is stored. The slice is the core's: read it, do not keep it. No lock
	// held.
	AfterSend func(s *Session, m *Message, queues []*Queue, err error)

	// BeforeDeliver and AfterDeliver surround the handing of a message to
	// a consumer's handler. Under a queue lock.
	BeforeDeliver func(q *Queue, d Delivery)
	AfterDeliver  func(q *Queue, d Delivery)
	// Acknowledged is told that a consumer acked a message (or that it was
	// delivered to an auto-ack consumer). Under a queue lock.
	Acknowledged func(q *Queue, m *Message, c *Consumer)
	// Expired is told that a message expired in q: to is its copy sent to
	// the expiry address, or nil when it was dropped. Dropped: under a
	// queue lock; moved: no lock held.
	Expired func(q *Queue, m *Message, to *Message)
	// DeadLettered is told that a message left q for the dead-letter
	// address (to is the copy there) or, without one, was dropped (to is
	// nil), and why. As Expired for locks.
	DeadLettered func(q *Queue, m *Message, to *Message, reason string)

	// AddressCreated, AddressDestroyed, QueueCreated and QueueDestroyed
	// follow the broker's addresses and queues, auto-created ones and
	// those Start recovers from the store included. Under the broker's
	// lock for creations and for the sweep of idle auto-created
	// addresses; other destructions run with no lock held.
	AddressCreated   func(name string)
	AddressDestroyed func(name string)
	QueueCreated     func(QueueInfo)
	QueueDestroyed   func(QueueInfo)
}

// ConnectionInfo describes a client connection to the Hooks.
type ConnectionInfo struct {
	// ID is unique among the broker's connections since it started.
	ID uint64
	// Protocol is the adapter's name ("stomp", "mqtt").
	Protocol string
	// User is the authenticated user, "" when anonymous.
	User   string
	Remote string
	TLS    bool
	Since  time.Time
}

// ErrRejected is what a BeforeSend hook's refusal matches (errors.Is).
var ErrRejected = errors.New("message rejected")

// RejectedError is a send refused by a BeforeSend hook. Adapters report it
// like a permission denial, in their protocol's own way.
type RejectedError struct {
	Address string
	Err     error // the hook's reason
}

func (e *RejectedError) Error() string {
	return fmt.Sprintf("message to %q rejected: %v", e.Address, e.Err)
}

// Is makes errors.Is(err, ErrRejected) true.
func (e *RejectedError) Is(target error) bool { return target == ErrRejected }

func (e *RejectedError) Unwrap() error { return e.Err }

// Hooks returns the broker's hooks (the zero Hooks when none were set).
// protocols/access reads the connection hooks from here.
func (b *Broker) Hooks() *Hooks { return &b.hooks }
