package amqp

import (
	"encoding/binary"
	"fmt"

	"github.com/junctionmq/junction/core"
	"github.com/junctionmq/junction/protocols/amqp/codec"
)

// Transaction control messages (part 4, 4.5): the amqp-value section of a
// message sent to the coordinator.
const (
	descDeclare   uint64 = 0x31
	descDischarge uint64 = 0x32
	sectionValue  uint64 = 0x77
)

// maxOpenTransactions bounds the transactions one connection may hold
// open: each keeps its sends and settlements in memory until discharged.
const maxOpenTransactions = 256

// txn is a declared local transaction.
type txn struct {
	id []byte
	tx *core.Tx
}

// txnFor finds a declared transaction by id (reader only).
func (c *conn) txnFor(id []byte) *txn {
	return c.txns[string(id)]
}

// coordinate handles a declare or discharge sent to the coordinator.
func (l *link) coordinate(p *partialDelivery, msg []byte) error {
	c := l.ss.c
	code, fields, err := controlOf(msg)
	if err != nil {
		return l.rejectOrDetach(p, codec.Errorf(codec.CondDecodeError, "transaction control message: %v", err))
	}
	switch code {
	case descDeclare:
		if len(fields) > 0 && fields[0] != nil {
			return l.rejectOrDetach(p, codec.Errorf(codec.CondNotImplemented, "global transactions are not supported"))
		}
		if len(c.txns) >= maxOpenTransactions {
			return l.rejectOrDetach(p, codec.Errorf(codec.CondResourceLimitExceeded, "too many open transactions (%d)", maxOpenTransactions))
		}
		c.nextTxn++
		id := binary.BigEndian.AppendUint64(nil, c.nextTxn)
		if c.txns == nil {
			c.txns = map[string]*txn{}
		}
		c.txns[string(id)] = &txn{id: id, tx: c.sess.Begin()}
		l.dispose(p.id, &codec.Declared{TxnID: id})
		return nil
	case descDischarge:
		if len(fields) == 0 {
			return l.rejectOrDetach(p, codec.Errorf(codec.CondDecodeError, "discharge without a txn-id"))
		}
		id, _ := fields[0].([]byte)
		fail := false
		if len(fields) > 1 {
			fail, _ = fields[1].(bool)
		}
		t := c.txns[string(id)]
		if t == nil {
			return l.rejectOrDetach(p, codec.Errorf(codec.CondTransactionUnknownID, "unknown transaction %x", id))
		}
		delete(c.txns, string(id))
		if fail {
			t.tx.Rollback()
			l.dispose(p.id, &codec.Accepted{})
			return nil
		}
		did := p.id
		c.beginPending()
		err := l.commitProducer().Commit(c.ctx, t.tx, func(err error) {
			if err != nil {
				l.disposeLocked(did, &codec.Rejected{Error: codec.Errorf(codec.CondTransactionRollback, "commit failed: %v", err)}, true)
				return
			}
			l.disposeLocked(did, &codec.Accepted{}, true)
		})
		if err != nil {
			c.mu.Lock()
			c.endPendingLocked()
			c.mu.Unlock()
			t.tx.Rollback()
			l.dispose(p.id, &codec.Rejected{Error: codec.Errorf(codec.CondTransactionRollback, "commit failed: %v", err)})
		}
		return nil
	}
	return l.rejectOrDetach(p, codec.Errorf(codec.CondNotImplemented, "coordinator message with descriptor 0x%x", code))
}

// commitProducer is the producer commits count against (held for space
// like sends).
func (l *link) commitProducer() *core.Producer {
	if l.producer == nil {
		l.producer = l.ss.c.sess.NewProducer()
	}
	return l.producer
}

// controlOf finds the amqp-value section of a message and returns the
// descriptor code and fields of the described list it holds.
func controlOf(msg []byte) (uint64, []any, error) {
	d := codec.NewDecoder(msg)
	for d.Len() > 0 {
		code, _, err := d.ReadDescriptor()
		if err != nil {
			return 0, nil, err
		}
		if code != sectionValue {
			if err := d.Skip(); err != nil {
				return 0, nil, err
			}
			continue
		}
		v, err := d.ReadValue()
		if err != nil {
			return 0, nil, err
		}
		var ok bool
		dv, ok := v.(codec.Described)
		if !ok {
			return 0, nil, fmt.Errorf("amqp-value holds %T, not a described list", v)
		}
		code, ok = codec.DescriptorCode(dv.Descriptor)
		if !ok {
			return 0, nil, fmt.Errorf("unknown descriptor %v", dv.Descriptor)
		}
		list, _ := dv.Value.(codec.List)
		return code, list, nil
	}
	return 0, nil, fmt.Errorf("no amqp-value section")
}

// rollbackAll ends the transactions a closing connection left open.
func (c *conn) rollbackAll() {
	for id, t := range c.txns {
		t.tx.Rollback()
		delete(c.txns, id)
	}
}

// txnIDProperty is the flow property by which a receiver asks for
// transactional acquisition (part 4, 4.4.3).
const txnIDProperty codec.Symbol = "txn-id"

// checkAcquisition refuses transactional acquisition on the link: the
// core has no way to make a delivery's acquisition (rather than its
// outcome) part of a transaction, so the broker says so rather than
// deliver outside the transaction the client asked for. Transactional
// retirement (a disposition in the transaction) does the same work for a
// consumer: what it settles in the transaction returns on rollback.
func (l *link) checkAcquisition(f *codec.Flow) error {
	for _, e := range f.Properties {
		if k, ok := e.Key.(codec.Symbol); ok && k == txnIDProperty {
			return l.errorf(codec.CondNotImplemented, "transactional acquisition (a flow with a txn-id) is not supported; settle the deliveries in the transaction instead")
		}
	}
	return nil
}
