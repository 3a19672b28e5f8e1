package core

import (
	"errors"
	"fmt"
	"sort"
)

// Reasons the core closes a consumer or a session on its own initiative,
// passed to ConsumerOptions.OnClose and SessionOptions.OnClose (possibly
// wrapped with detail: test them with errors.Is).
var (
	ErrQueueDeleted      = errors.New("queue deleted")
	ErrPermissionRevoked = errors.New("permission revoked")
	ErrAdminClosed       = errors.New("closed by an administrator")
	ErrTakenOver         = errors.New("session taken over by another connection")
)

// detached finishes a consumer that deleteQueue closed under the queue lock:
// the session forgets it and the adapter hears why.
func (c *Consumer) detached(reason error) {
	if c.s != nil {
		c.s.forget(c)
	}
	if c.onClose != nil {
		c.onClose(reason)
	}
}

// ID is unique among the broker's consumers.
func (c *Consumer) ID() uint64 { return c.id }

// Session returns the session the consumer belongs to.
func (c *Consumer) Session() *Session { return c.s }

// ConsumerInfo describes an open consumer for operators.
type ConsumerInfo struct {
	ID        uint64
	SessionID uint64
	ClientID  string
	User      string
	Queue     string
	Address   string
	Selector  string
	Credit    int
	InFlight  int
}

// Consumers lists the open consumers, by id (the management API's view).
func (b *Broker) Consumers() []ConsumerInfo {
	var out []ConsumerInfo
	for _, s := range b.openSessions() {
		for _, c := range s.consumerList() {
			q := c.q
			q.mu.Lock()
			if !c.closed {
				out = append(out, ConsumerInfo{ID: c.id, SessionID: s.id, ClientID: s.ClientID(), User: s.opts.User,
					Queue: q.info.Name, Address: q.info.Address, Selector: c.selText, Credit: c.credit, InFlight: len(c.inFlight)})
			}
			q.mu.Unlock()
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// CloseConsumer closes one consumer by id; its adapter is told reason (nil
// means ErrAdminClosed) through ConsumerOptions.OnClose.
func (b *Broker) CloseConsumer(id uint64, reason error) error {
	if reason == nil {
		reason = ErrAdminClosed
	}
	for _, s := range b.openSessions() {
		for _, c := range s.consumerList() {
			if c.id == id {
				c.closeFor(reason)
				return nil
			}
		}
	}
	return fmt.Errorf("%w: consumer %d", ErrConsumerClosed, id)
}

// CloseSession closes a session by id (an operator's "close connection"):
// its adapter is told reason (nil means ErrAdminClosed) through
// SessionOptions.OnClose and ends the connection.
func (b *Broker) CloseSession(id uint64, reason error) error {
	b.sessionsMu.Lock()
	s, ok := b.sessions[id]
	b.sessionsMu.Unlock()
	if !ok {
		return fmt.Errorf("%w: session %d", ErrClosed, id)
	}
	if reason == nil {
		reason = ErrAdminClosed
	}
	s.CloseFor(reason)
	return nil
}

// DeleteQueue deletes a queue with its messages on an operator's behalf,
// whatever consumes it: its consumers are closed with ErrQueueDeleted.
func (b *Broker) DeleteQueue(name string) error {
	q, ok := b.Queue(name)
	if !ok || !b.deleteQueue(q, false) {
		return fmt.Errorf("%w: %q", ErrNoSuchQueue, name)
	}
	return nil
}

// Revalidate asks every open session again whether its login stands and
// whether each consumer may still consume what it consumes; the security
// layer calls it after the users file changed. A session whose login is
// gone is closed (SessionOptions.OnClose, ErrPermissionRevoked); a consumer
// that lost its permission is closed (ConsumerOptions.OnClose). Sends need
// nothing here: every send is authorized as it happens.
func (b *Broker) Revalidate() {
	for _, s := range b.openSessions() {
		if s.opts.LoginValid != nil {
			if err := s.opts.LoginValid(); err != nil {
				s.CloseFor(fmt.Errorf("%w: %v", ErrPermissionRevoked, err))
				continue
			}
		}
		if s.opts.Authorize == nil {
			continue
		}
		for _, c := range s.consumerList() {
			for _, addr := range c.authAddrs {
				if err := s.authorize(PermConsume, addr); err != nil {
					c.closeFor(fmt.Errorf("%w: %v", ErrPermissionRevoked, err))
					break
				}
			}
		}
	}
}

func (b *Broker) openSessions() []*Session {
	b.sessionsMu.Lock()
	defer b.sessionsMu.Unlock()
	out := make([]*Session, 0, len(b.sessions))
	for _, s := range b.sessions {
		out = append(out, s)
	}
	return out
}

func (s *Session) consumerList() []*Consumer {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]*Consumer, 0, len(s.consumers))
	for c := range s.consumers {
		out = append(out, c)
	}
	return out
}
