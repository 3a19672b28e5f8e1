package openwire

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"

	"github.com/junctionmq/junction/core"
	"github.com/junctionmq/junction/protocols/openwire/wire"
)

// producer is one ProducerInfo. A producer with a window gets a core
// Producer of its own: the client counts the bytes of its asynchronous
// sends against the window and waits for ProducerAcks to send more, and the
// server writes each ProducerAck once the core has admitted the send (its
// done callback), so a send held by address-full-policy BLOCK holds the
// window and, once the window is used up, the client.
type producer struct {
	id     wire.ProducerID
	window int32
	cp     *core.Producer // window producers only
	// midPrefix is "<connection id>:<session>:<producer>:", the start of
	// every JMSMessageID the producer sends.
	midPrefix string
}

// producerOf returns the producer that sent m, or nil.
func (c *conn) producerOf(m *wire.Message) *producer {
	if m.ProducerID == nil {
		return nil
	}
	return c.producers[*m.ProducerID]
}

func (p *producer) close() {
	if p.cp != nil {
		p.cp.Close()
	}
}

func (c *conn) onProducerInfo(info *wire.ProducerInfo) error {
	if info.ProducerID == nil {
		return jmsError("javax.jms.JMSException", "ProducerInfo without a producer id")
	}
	if info.Destination != nil {
		ts, err := targets(info.Destination)
		if err != nil {
			return err
		}
		// ActiveMQ refuses a producer its user may not send with when it
		// is created (createProducer throws), not at its first send.
		for _, t := range ts {
			if t.temp() || t.advisory() {
				continue
			}
			if err := c.id.Authorize(core.PermSend, t.name); err != nil {
				return &core.PermissionError{Permission: core.PermSend, Address: t.name, Err: err}
			}
		}
	}
	p := &producer{id: *info.ProducerID, window: info.WindowSize}
	if info.WindowSize > 0 {
		p.cp = c.sess.NewProducer()
	}
	if old := c.producers[p.id]; old != nil {
		old.close() // a failover client replaying its state
	}
	c.producers[p.id] = p
	return nil
}

// onMessage handles a send. A send that asked for a response gets it once
// every target has the message (durable, for a persistent one); an
// asynchronous send of a window producer gets its ProducerAck then.
func (c *conn) onMessage(ctx context.Context, m *wire.Message) {
	base := m.Base()
	var p *producer
	if m.ProducerID != nil {
		p = c.producers[*m.ProducerID]
	}
	ts, err := c.sendTargets(m.Destination)
	if err != nil {
		c.respond(base, err)
		return
	}
	for _, t := range ts {
		if t.temp() && !c.s.tempExists(t.name) {
			c.respond(base, jmsError("javax.jms.InvalidDestinationException", "Cannot publish to a deleted Destination: "+t.name))
			return
		}
	}
	if m.TransactionID != nil {
		err := c.sendInTx(m, ts)
		c.respond(base, err)
		if err == nil && p != nil && p.window > 0 && !base.ResponseRequired {
			// A transacted send is taken once it is in the transaction:
			// the window must not wait for the commit.
			c.send(&wire.ProducerAck{ProducerID: &p.id, Size: int32(m.Size())})
		}
		return
	}
	prod := c.heldProd
	if p != nil && p.cp != nil {
		prod = p.cp
	}
	if prod == nil {
		c.heldProd = c.sess.NewProducer()
		prod = c.heldProd
	}
	ack := &sendAck{c: c, base: *base, pending: int32(len(ts))}
	if p != nil && p.window > 0 && !base.ResponseRequired {
		ack.producerAck = &wire.ProducerAck{ProducerID: &p.id, Size: int32(m.Size())} // what the client counted against its window
	}
	for i, t := range ts {
		if t.advisory() {
			ack.done(nil) // advisories are the broker's to publish
			continue
		}
		cm, err := c.toCore(m, t, p)
		if err == nil {
			err = prod.Send(ctx, cm, ack.done)
		}
		if err != nil {
			// The targets not tried yet count as failed with it.
			ack.fail(err, int32(len(ts)-i))
			break
		}
		c.s.counters.MessageIn()
	}
	if prod.Held() > c.s.opts.MaxHeldBytes {
		c.awaitRelease(prod)
	}
}

// sendTargets resolves a send's destination. The decoder's marshalling
// cache hands out one *wire.Destination for every message a producer sends
// to the same place, so the last resolution is kept and reused for it.
func (c *conn) sendTargets(d *wire.Destination) ([]target, error) {
	if d != nil && d == c.lastDest {
		return c.lastTargets, nil
	}
	ts, err := targets(d)
	if err != nil {
		return nil, err
	}
	c.lastDest, c.lastTargets = d, ts
	return ts, nil
}

// sendAck gathers the done callbacks of one send's targets.
type sendAck struct {
	c           *conn
	base        wire.BaseCommand
	producerAck *wire.ProducerAck
	pending     int32
	mu          sync.Mutex
	err         error
}

func (a *sendAck) done(err error) { a.fail(err, 1) }

// fail counts n targets as finished with err (nil for success); the last
// one answers the client.
func (a *sendAck) fail(err error, n int32) {
	if err != nil {
		a.mu.Lock()
		if a.err == nil {
			a.err = err
		}
		a.mu.Unlock()
	}
	if atomic.AddInt32(&a.pending, -n) != 0 {
		return
	}
	a.mu.Lock()
	err = a.err
	a.mu.Unlock()
	if err != nil && errors.Is(err, core.ErrClosed) && a.c.isClosed() {
		return // withdrawn as the connection ends: nobody to tell
	}
	a.c.respond(&a.base, err)
	if err == nil && a.producerAck != nil {
		a.c.send(a.producerAck)
	}
}

func (c *conn) isClosed() bool {
	c.outMu.Lock()
	defer c.outMu.Unlock()
	return c.closed || c.ob.Dead
}

// awaitRelease stops reading until the producer's held sends are back
// under MaxHeldBytes, the bound that keeps a client sending asynchronously
// without a window from making the broker buffer without limit.
func (c *conn) awaitRelease(prod *core.Producer) {
	released := make(chan struct{})
	if !prod.OnRelease(c.s.opts.MaxHeldBytes, func() { close(released) }) {
		return
	}
	c.outMu.Lock()
	if c.ob.Dead {
		c.outMu.Unlock()
		return
	}
	if c.obClosed == nil {
		c.obClosed = make(chan struct{})
	}
	closed := c.obClosed
	c.outMu.Unlock()
	select {
	case <-released:
	case <-closed:
	case <-c.ctx.Done():
	}
	c.w.Resumed()
}

// txState is one local transaction: its sends are in the core Tx already;
// its acks wait here until the commit, because a rolled-back ActiveMQ
// consumer redelivers the messages itself, from its own buffer, so the
// broker must leave them in flight rather than return them to the queue.
type txState struct {
	tx     *core.Tx
	acks   []txAck
	failed error // an asynchronous send that failed: the commit must fail
}

type txAck struct {
	con *consumer
	seq int64
}

func (t *txState) rollback() { t.tx.Rollback() }

func localTx(id wire.TransactionID) (int64, error) {
	switch v := id.(type) {
	case *wire.LocalTransactionID:
		return v.Value, nil
	case *wire.XATransactionID:
		return 0, jmsError("javax.jms.JMSException", "XA transactions are not supported by this broker: use local (session) transactions")
	}
	return 0, jmsError("javax.jms.JMSException", "no transaction id")
}

func (c *conn) sendInTx(m *wire.Message, ts []target) error {
	id, err := localTx(m.TransactionID)
	if err != nil {
		return err
	}
	st := c.txs[id]
	if st == nil {
		return jmsError("javax.jms.IllegalStateException", "transaction has not been started")
	}
	for _, t := range ts {
		if t.advisory() {
			continue
		}
		cm, err := c.toCore(m, t, c.producerOf(m))
		if err == nil {
			err = st.tx.Send(cm)
		}
		if err != nil {
			if !m.ResponseRequired && st.failed == nil {
				st.failed = err
			}
			return err
		}
		c.s.counters.MessageIn()
	}
	return nil
}

// onTransaction begins, commits or rolls back a local transaction. XA is
// refused with a message that says so.
func (c *conn) onTransaction(ctx context.Context, info *wire.TransactionInfo) {
	base := info.Base()
	id, err := localTx(info.TransactionID)
	if err != nil {
		c.respond(base, err)
		return
	}
	switch info.Type {
	case wire.TxBegin:
		if c.txs[id] != nil {
			c.respond(base, jmsError("javax.jms.IllegalStateException", "transaction already started"))
			return
		}
		c.txs[id] = &txState{tx: c.sess.Begin()}
		c.respond(base, nil)
	case wire.TxRollback:
		if st := c.txs[id]; st != nil {
			st.rollback()
			delete(c.txs, id)
		}
		c.respond(base, nil)
	case wire.TxCommitOnePhase:
		st := c.txs[id]
		if st == nil {
			c.respond(base, jmsError("javax.jms.IllegalStateException", "transaction has not been started"))
			return
		}
		delete(c.txs, id)
		if st.failed != nil {
			st.rollback()
			c.respond(base, jmsError("javax.jms.TransactionRolledBackException", "transaction rolled back: a send in it failed: "+st.failed.Error()))
			return
		}
		for _, a := range st.acks {
			a.con.ackInTx(st.tx, a.seq)
		}
		b := *base
		if err := st.tx.Commit(ctx, func(err error) {
			if err != nil {
				err = jmsError("javax.jms.TransactionRolledBackException", "commit failed: "+err.Error())
			}
			c.respond(&b, err)
		}); err != nil {
			st.rollback()
			c.respond(base, jmsError("javax.jms.TransactionRolledBackException", "commit failed: "+err.Error()))
		}
	default:
		c.respond(base, jmsError("javax.jms.JMSException", "XA transactions (prepare, two-phase commit, end, recover, forget) are not supported by this broker"))
	}
}
