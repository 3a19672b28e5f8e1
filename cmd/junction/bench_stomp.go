package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"sync"
	"time"

	"github.com/junctionmq/junction/protocols/stomp/frame"
)

// stompBench is a lean STOMP 1.2 client for the load tool: it writes frames
// through a buffered writer and reads with the broker's own frame decoder, so
// the client costs little next to the broker it measures.
type stompBench struct {
	f    benchFlags
	addr string
}

func (s *stompBench) name() string { return "stomp" }

type stompClient struct {
	nc net.Conn
	w  *bufio.Writer
	rd *frame.Reader
	mu sync.Mutex
}

func (s *stompBench) dial(ctx context.Context) (*stompClient, error) {
	var d net.Dialer
	nc, err := d.DialContext(ctx, "tcp", s.addr)
	if err != nil {
		return nil, err
	}
	c := &stompClient{nc: nc, w: bufio.NewWriterSize(nc, 64<<10), rd: frame.NewReader(nc, frame.Limits{})}
	f := &frame.Frame{Command: frame.CmdConnect}
	f.Add(frame.HdrAcceptVersion, "1.2")
	f.Add(frame.HdrHost, "/") // RabbitMQ reads host as the virtual host
	f.Add(frame.HdrHeartBeat, "0,0")
	if s.f.user != "" {
		f.Add(frame.HdrLogin, s.f.user)
		f.Add(frame.HdrPasscode, s.f.password)
	}
	if s.f.clientID != "" {
		f.Add("client-id", s.f.clientID)
	}
	_ = nc.SetDeadline(time.Now().Add(15 * time.Second))
	if _, err := nc.Write(frame.AppendFrame(nil, f, frame.V1_2)); err != nil {
		nc.Close()
		return nil, err
	}
	resp, err := c.rd.Read()
	if err != nil {
		nc.Close()
		return nil, fmt.Errorf("reading CONNECTED: %w", err)
	}
	if resp.Command != frame.CmdConnected {
		msg, _ := resp.Get(frame.HdrMessage)
		nc.Close()
		return nil, fmt.Errorf("broker refused: %s %s", resp.Command, msg)
	}
	_ = nc.SetDeadline(time.Time{})
	c.rd.SetVersion(frame.V1_2)
	return c, nil
}

func (c *stompClient) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.w.WriteString("DISCONNECT\n\n\x00")
	c.w.Flush()
	return c.nc.Close()
}

type stompPublisher struct {
	c        *stompClient
	dest     string
	persist  bool
	n        uint64
	fr       frame.Frame
	idBuf    [20]byte
	deadline time.Time
}

func (s *stompBench) publisher(ctx context.Context, i int) (benchPublisher, error) {
	c, err := s.dial(ctx)
	if err != nil {
		return nil, err
	}
	return &stompPublisher{c: c, dest: s.f.dest, persist: s.f.persistent}, nil
}

// publish sends one SEND. With a receipt it waits for it on the calling
// goroutine: a publisher connection receives nothing but its receipts (and an
// ERROR), so no reader goroutine and no hand-off per message are needed, and
// the client stays cheap next to the broker it measures.
func (p *stompPublisher) publish(body []byte, receipt bool) error {
	var e frame.Encoder
	buf := p.c.w.AvailableBuffer()
	e.Begin(buf, frame.V1_2, frame.CmdSend)
	e.Header(frame.HdrDestination, p.dest)
	if p.persist {
		e.Header("persistent", "true")
	}
	if receipt {
		p.n++
		e.HeaderUint(frame.HdrReceipt, p.n)
	}
	buf = e.Body(body)
	if _, err := p.c.w.Write(buf); err != nil {
		return err
	}
	if !receipt {
		return nil
	}
	if err := p.c.w.Flush(); err != nil {
		return err
	}
	if time.Until(p.deadline) < 30*time.Second {
		p.deadline = time.Now().Add(60 * time.Second)
		_ = p.c.nc.SetReadDeadline(p.deadline)
	}
	want := strconv.AppendUint(p.idBuf[:0], p.n, 10)
	for {
		if _, err := p.c.rd.ReadFrame(&p.fr); err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				return errors.New("no receipt within 60s")
			}
			return err
		}
		switch p.fr.Command {
		case frame.CmdReceipt:
			// Receipts come in order; an older one (there is none with
			// every-message receipts) is skipped.
			if id, _ := p.fr.Get(frame.HdrReceiptID); id == string(want) {
				return nil
			}
		case frame.CmdError:
			msg, _ := p.fr.Get(frame.HdrMessage)
			return fmt.Errorf("ERROR frame: %s", msg)
		}
	}
}

func (p *stompPublisher) flush() error { return p.c.w.Flush() }
func (p *stompPublisher) close()       { p.c.Close() }

type stompSubscriber struct{ c *stompClient }

func (s *stompBench) subscriber(ctx context.Context, i int, got func([]byte)) (benchSubscriber, error) {
	c, err := s.dial(ctx)
	if err != nil {
		return nil, err
	}
	f := &frame.Frame{Command: frame.CmdSubscribe}
	f.Add(frame.HdrID, "0")
	f.Add(frame.HdrDestination, s.f.dest)
	f.Add(frame.HdrAck, s.f.ack)
	if s.f.prefetch > 0 { // 0: the broker's default
		f.Add("prefetch-count", strconv.Itoa(s.f.prefetch))
		f.Add("activemq.prefetchSize", strconv.Itoa(s.f.prefetch))
	}
	f.Add(frame.HdrReceipt, "sub")
	if _, err := c.nc.Write(frame.AppendFrame(nil, f, frame.V1_2)); err != nil {
		c.nc.Close()
		return nil, err
	}
	resp, err := c.rd.Read()
	if err != nil || resp.Command != frame.CmdReceipt {
		c.nc.Close()
		if err == nil {
			msg, _ := resp.Get(frame.HdrMessage)
			err = fmt.Errorf("subscribe refused: %s", msg)
		}
		return nil, err
	}
	clientAck := s.f.ack != "auto"
	go func() {
		var fr frame.Frame
		for {
			if _, err := c.rd.ReadFrame(&fr); err != nil {
				return
			}
			if fr.Command != frame.CmdMessage {
				continue
			}
			got(fr.Body)
			if clientAck {
				id, _ := fr.Get(frame.HdrAck)
				c.mu.Lock()
				var e frame.Encoder
				e.Begin(c.w.AvailableBuffer(), frame.V1_2, frame.CmdAck)
				e.Header(frame.HdrID, id)
				c.w.Write(e.Body(nil))
				if c.rd.Buffered() == 0 {
					c.w.Flush()
				}
				c.mu.Unlock()
			}
		}
	}()
	return &stompSubscriber{c: c}, nil
}

func (s *stompSubscriber) close() { s.c.Close() }

func (s *stompBench) idle(ctx context.Context, i int) (io.Closer, error) {
	c, err := s.dial(ctx)
	if err != nil {
		return nil, err
	}
	return c, nil
}
