package main

import (
	"context"
	"io"
	"sync"

	"github.com/Azure/go-amqp"
)

// amqpBench drives AMQP 1.0 with go-amqp. A persistent producer sends
// unsettled and waits for each message's outcome (go-amqp has no
// asynchronous send), so with --persistent every message is confirmed and
// --receipt-every changes nothing; otherwise messages are sent settled.
type amqpBench struct {
	f    benchFlags
	addr string
}

func (a *amqpBench) name() string { return "amqp" }

type amqpPublisher struct {
	conn    *amqp.Conn
	snd     *amqp.Sender
	durable bool
}

func (a *amqpBench) publisher(ctx context.Context, i int) (benchPublisher, error) {
	conn, sess, err := amqpSession(ctx, a.f.clientFlags, a.addr)
	if err != nil {
		return nil, err
	}
	mode := amqp.SenderSettleModeSettled
	if a.f.persistent {
		mode = amqp.SenderSettleModeUnsettled
	}
	snd, err := sess.NewSender(ctx, amqpAddress(a.f.dest), &amqp.SenderOptions{SettlementMode: &mode})
	if err != nil {
		conn.Close()
		return nil, err
	}
	return &amqpPublisher{conn: conn, snd: snd, durable: a.f.persistent}, nil
}

// publish sends one message; go-amqp encodes it before Send returns, so
// the caller may reuse body.
func (p *amqpPublisher) publish(body []byte, _ bool) error {
	m := &amqp.Message{Data: [][]byte{body}}
	if p.durable {
		m.Header = &amqp.MessageHeader{Durable: true}
	}
	return p.snd.Send(context.Background(), m, nil)
}

func (p *amqpPublisher) flush() error { return nil }
func (p *amqpPublisher) close()       { p.conn.Close() }

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
	if credit <= 0 {
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
