package main

import (
	"context"
	"fmt"
	"io"
	"sync"

	"github.com/Azure/go-amqp"
)

// amqpBench drives AMQP 1.0 with go-amqp. Without --persistent or
// --unsettled messages are sent settled (at most once). Otherwise they are
// sent unsettled and a message counts as sent once the broker's outcome
// came back: go-amqp's Send waits for that outcome, so one Send at a time
// would measure a round trip per message. As a high-throughput go-amqp
// user would, the producer pipelines with SendWithReceipt, keeping up to
// --in-flight receipts outstanding and waiting for the oldest.
type amqpBench struct {
	f    benchFlags
	addr string
}

func (a *amqpBench) name() string { return "amqp" }

type amqpPublisher struct {
	conn      *amqp.Conn
	snd       *amqp.Sender
	durable   bool
	unsettled bool
	window    int
	pending   []amqp.SendReceipt // outstanding, oldest first
}

func (a *amqpBench) publisher(ctx context.Context, i int) (benchPublisher, error) {
	conn, sess, err := amqpSession(ctx, a.f.clientFlags, a.addr)
	if err != nil {
		return nil, err
	}
	unsettled := a.f.persistent || a.f.unsettled
	mode := amqp.SenderSettleModeSettled
	if unsettled {
		mode = amqp.SenderSettleModeUnsettled
	}
	snd, err := sess.NewSender(ctx, amqpAddress(a.f.dest), &amqp.SenderOptions{SettlementMode: &mode})
	if err != nil {
		conn.Close()
		return nil, err
	}
	return &amqpPublisher{conn: conn, snd: snd, durable: a.f.persistent, unsettled: unsettled, window: a.f.inFlight}, nil
}

// publish sends one message; go-amqp encodes it before SendWithReceipt
// returns, so the caller may reuse body.
func (p *amqpPublisher) publish(body []byte, _ bool) error {
	m := &amqp.Message{Data: [][]byte{body}}
	if p.durable {
		m.Header = &amqp.MessageHeader{Durable: true}
	}
	ctx := context.Background()
	if !p.unsettled {
		return p.snd.Send(ctx, m, nil)
	}
	r, err := p.snd.SendWithReceipt(ctx, m, nil)
	if err != nil {
		return err
	}
	p.pending = append(p.pending, r)
	for len(p.pending) >= p.window {
		if err := p.waitOldest(); err != nil {
			return err
		}
	}
	return nil
}

// waitOldest waits for the oldest outstanding outcome; anything but
// accepted is an error.
func (p *amqpPublisher) waitOldest() error {
	r := p.pending[0]
	p.pending = p.pending[1:]
	st, err := r.Wait(context.Background())
	if err != nil {
		return err
	}
	if _, ok := st.(*amqp.StateAccepted); !ok {
		return fmt.Errorf("message not accepted: %T %v", st, st)
	}
	return nil
}

// flush waits for every outstanding outcome.
func (p *amqpPublisher) flush() error {
	for len(p.pending) > 0 {
		if err := p.waitOldest(); err != nil {
			return err
		}
	}
	return nil
}

func (p *amqpPublisher) close() { p.conn.Close() }

type amqpSubscriber struct {
	conn   *amqp.Conn
	cancel context.CancelFunc
	done   sync.WaitGroup
}

func (a *amqpBench) subscriber(ctx context.Context, i int, got func([]byte)) (benchSubscriber, error) {
	conn, sess, err := amqpSession(ctx, a.f.clientFlags, a.addr)
	if err != nil {
		return nil, err
	}
	credit := int32(a.f.prefetch)
	switch {
	case a.f.credit >= 0:
		credit = int32(a.f.credit) // 0: go-amqp's default
	case credit <= 0:
		credit = 1000
	}
	opts := &amqp.ReceiverOptions{Credit: credit}
	auto := a.f.ack == "auto"
	if auto {
		mode := amqp.SenderSettleModeSettled
		opts.RequestedSenderSettleMode = &mode
	}
	rcv, err := sess.NewReceiver(ctx, amqpAddress(a.f.dest), opts)
	if err != nil {
		conn.Close()
		return nil, err
	}
	rctx, cancel := context.WithCancel(context.Background())
	s := &amqpSubscriber{conn: conn, cancel: cancel}
	s.done.Add(1)
	go func() {
		defer s.done.Done()
		for {
			m, err := rcv.Receive(rctx, nil)
			if err != nil {
				return
			}
			got(m.GetData())
			if !auto {
				if err := rcv.AcceptMessage(rctx, m); err != nil {
					return
				}
			}
		}
	}()
	return s, nil
}

func (s *amqpSubscriber) close() {
	s.cancel()
	s.done.Wait()
	s.conn.Close()
}

func (a *amqpBench) idle(ctx context.Context, i int) (io.Closer, error) {
	return amqpDial(ctx, a.f.clientFlags, a.addr)
}
