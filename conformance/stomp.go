package conformance

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/go-stomp/stomp/v3"
	"github.com/go-stomp/stomp/v3/frame"
)

var timeZero time.Time

// quietLogger keeps go-stomp from writing to the runner's output.
type quietLogger struct{}

func (quietLogger) Debugf(string, ...interface{})   {}
func (quietLogger) Infof(string, ...interface{})    {}
func (quietLogger) Warningf(string, ...interface{}) {}
func (quietLogger) Errorf(string, ...interface{})   {}
func (quietLogger) Debug(string)                    {}
func (quietLogger) Info(string)                     {}
func (quietLogger) Warning(string)                  {}
func (quietLogger) Error(string)                    {}

func stompConn(ctx context.Context, e *env, opts ...func(*stomp.Conn) error) (*stomp.Conn, error) {
	return dialSTOMP(ctx, e, append([]func(*stomp.Conn) error{stomp.ConnOpt.Logger(quietLogger{})}, opts...)...)
}

// readMsg waits for one message on a subscription, within ctx.
func readMsg(ctx context.Context, sub *stomp.Subscription) (*stomp.Message, error) {
	select {
	case m, ok := <-sub.C:
		if !ok {
			return nil, errors.New("subscription closed")
		}
		if m.Err != nil {
			return nil, m.Err
		}
		return m, nil
	case <-ctx.Done():
		return nil, fmt.Errorf("no message: %w", ctx.Err())
	}
}

// noMsg reports an error when a message arrives within d.
func noMsg(ctx context.Context, sub *stomp.Subscription, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case m := <-sub.C:
		if m == nil {
			return nil
		}
		if m.Err != nil {
			return m.Err
		}
		return fmt.Errorf("unexpected message %q", m.Body)
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func init() {
	register(
		check{protocol: "stomp", feature: "connect 1.2", run: stompConnect},
		check{protocol: "stomp", feature: "queue send and receive in order", run: stompQueueOrder},
		check{protocol: "stomp", feature: "topic to every subscriber", run: stompTopicFanout},
		check{protocol: "stomp", feature: "receipt", run: stompReceipt},
		check{protocol: "stomp", feature: "client-individual ack, unacked redelivered", run: stompClientAck},
		check{protocol: "stomp", feature: "nack", run: stompNack},
		check{protocol: "stomp", feature: "transaction commit and abort", run: stompTransaction},
		check{protocol: "stomp", feature: "selector header", run: stompSelector},
		check{protocol: "stomp", feature: "header escaping", run: stompEscaping},
		check{protocol: "stomp", feature: "1 MiB message", run: stompLarge},
		check{protocol: "stomp", feature: "heart-beats", run: stompHeartBeat},
		check{protocol: "stomp", feature: "ERROR for a bad frame", run: stompBadFrame},
	)
}

func stompConnect(ctx context.Context, e *env) error {
	c, err := stompConn(ctx, e)
	if err != nil {
		return err
	}
	defer c.Disconnect()
	if c.Version() != stomp.V12 {
		return fmt.Errorf("negotiated STOMP %s, want 1.2", c.Version())
	}
	return nil
}

func stompQueueOrder(ctx context.Context, e *env) error {
	q := stompQueue(e.name("queue"))
	c, err := stompConn(ctx, e)
	if err != nil {
		return err
	}
	defer c.Disconnect()
	const n = 20
	for i := range n {
		if err := c.Send(q, "text/plain", []byte(strconv.Itoa(i)), stomp.SendOpt.Receipt); err != nil {
			return fmt.Errorf("send %d: %w", i, err)
		}
	}
	sub, err := c.Subscribe(q, stomp.AckAuto)
	if err != nil {
		return err
	}
	for i := range n {
		m, err := readMsg(ctx, sub)
		if err != nil {
			return fmt.Errorf("message %d: %w", i, err)
		}
		if string(m.Body) != strconv.Itoa(i) {
			return fmt.Errorf("message %d is %q: out of order", i, m.Body)
		}
	}
	return nil
}

func stompTopicFanout(ctx context.Context, e *env) error {
	t := stompTopic(e.name("topic"))
	var subs []*stomp.Subscription
	for range 2 {
		c, err := stompConn(ctx, e)
		if err != nil {
			return err
		}
		defer c.Disconnect()
		// A receipt on SUBSCRIBE would prove it is in place; go-stomp has
		// none, so a round trip on the same connection stands in for it.
		sub, err := c.Subscribe(t, stomp.AckAuto)
		if err != nil {
			return err
		}
		if err := c.Send(stompQueue(e.name("barrier")), "text/plain", nil, stomp.SendOpt.Receipt); err != nil {
			return err
		}
		subs = append(subs, sub)
	}
	p, err := stompConn(ctx, e)
	if err != nil {
		return err
	}
	defer p.Disconnect()
	if err := p.Send(t, "text/plain", []byte("to all"), stomp.SendOpt.Receipt); err != nil {
		return err
	}
	for i, sub := range subs {
		m, err := readMsg(ctx, sub)
		if err != nil {
			return fmt.Errorf("subscriber %d: %w", i+1, err)
		}
		if string(m.Body) != "to all" {
			return fmt.Errorf("subscriber %d got %q", i+1, m.Body)
		}
	}
	return nil
}

func stompReceipt(ctx context.Context, e *env) error {
	c, err := stompConn(ctx, e)
	if err != nil {
		return err
	}
	defer c.Disconnect()
	return c.Send(stompQueue(e.name("receipt")), "text/plain", []byte("x"), stomp.SendOpt.Receipt)
}

func stompClientAck(ctx context.Context, e *env) error {
	q := stompQueue(e.name("ack"))
	c, err := stompConn(ctx, e)
	if err != nil {
		return err
	}
	defer c.Disconnect()
	for _, b := range []string{"one", "two"} {
		if err := c.Send(q, "text/plain", []byte(b), stomp.SendOpt.Receipt); err != nil {
			return err
		}
	}
	// First consumer acks "one", leaves "two" unacked and goes away.
	c1, err := stompConn(ctx, e)
	if err != nil {
		return err
	}
	sub, err := c1.Subscribe(q, stomp.AckClientIndividual)
	if err != nil {
		return err
	}
	m1, err := readMsg(ctx, sub)
	if err != nil {
		return err
	}
	if err := c1.Ack(m1); err != nil {
		return err
	}
	if _, err := readMsg(ctx, sub); err != nil {
		return err
	}
	if err := c1.Disconnect(); err != nil {
		return err
	}
	c2, err := stompConn(ctx, e)
	if err != nil {
		return err
	}
	defer c2.Disconnect()
	sub2, err := c2.Subscribe(q, stomp.AckClientIndividual)
	if err != nil {
		return err
	}
	m, err := readMsg(ctx, sub2)
	if err != nil {
		return fmt.Errorf("the unacked message was not redelivered: %w", err)
	}
	if string(m.Body) != "two" {
		return fmt.Errorf("redelivered %q, want the unacked %q", m.Body, "two")
	}
	_ = c2.Ack(m)
	return noMsg(ctx, sub2, 300*time.Millisecond)
}

func stompNack(ctx context.Context, e *env) error {
	q := stompQueue(e.name("nack"))
	c, err := stompConn(ctx, e)
	if err != nil {
		return err
	}
	defer c.Disconnect()
	if err := c.Send(q, "text/plain", []byte("n"), stomp.SendOpt.Receipt); err != nil {
		return err
	}
	sub, err := c.Subscribe(q, stomp.AckClientIndividual)
	if err != nil {
		return err
	}
	m, err := readMsg(ctx, sub)
	if err != nil {
		return err
	}
	// NACK is STOMP 1.2's; what follows it (redelivery or a dead-letter
	// queue) is the broker's policy, so the check is that it is accepted:
	// a receipt on a later frame proves no ERROR came back.
	if err := c.Nack(m); err != nil {
		return err
	}
	return c.Send(stompQueue(e.name("after-nack")), "text/plain", nil, stomp.SendOpt.Receipt)
}

func stompTransaction(ctx context.Context, e *env) error {
	q := stompQueue(e.name("tx"))
	c, err := stompConn(ctx, e)
	if err != nil {
		return err
	}
	defer c.Disconnect()
	tx, err := c.BeginWithError()
	if err != nil {
		return err
	}
	if err := tx.Send(q, "text/plain", []byte("aborted")); err != nil {
		return err
	}
	if err := tx.Abort(); err != nil {
		return err
	}
	tx, err = c.BeginWithError()
	if err != nil {
		return err
	}
	if err := tx.Send(q, "text/plain", []byte("committed")); err != nil {
		return err
	}
	sub, err := c.Subscribe(q, stomp.AckAuto)
	if err != nil {
		return err
	}
	if err := noMsg(ctx, sub, 300*time.Millisecond); err != nil {
		return fmt.Errorf("before COMMIT: %w", err)
	}
	if err := tx.CommitWithReceipt(); err != nil {
		return err
	}
	m, err := readMsg(ctx, sub)
	if err != nil {
		return err
	}
	if string(m.Body) != "committed" {
		return fmt.Errorf("got %q: an aborted send was delivered", m.Body)
	}
	return noMsg(ctx, sub, 300*time.Millisecond)
}

func stompSelector(ctx context.Context, e *env) error {
	q := stompQueue(e.name("selector"))
	c, err := stompConn(ctx, e)
	if err != nil {
		return err
	}
	defer c.Disconnect()
	for _, color := range []string{"blue", "red"} {
		if err := c.Send(q, "text/plain", []byte(color), stomp.SendOpt.Receipt, stomp.SendOpt.Header("color", color)); err != nil {
			return err
		}
	}
	sub, err := c.Subscribe(q, stomp.AckAuto, stomp.SubscribeOpt.Header("selector", "color = 'red'"))
	if err != nil {
		return err
	}
	m, err := readMsg(ctx, sub)
	if err != nil {
		return err
	}
	if string(m.Body) != "red" {
		return skipf("the selector header was ignored (got %q first): not supported", m.Body)
	}
	return nil
}

func stompEscaping(ctx context.Context, e *env) error {
	q := stompQueue(e.name("escape"))
	c, err := stompConn(ctx, e)
	if err != nil {
		return err
	}
	defer c.Disconnect()
	const v = "a:b\\c\nd"
	if err := c.Send(q, "text/plain", []byte("x"), stomp.SendOpt.Receipt, stomp.SendOpt.Header("tricky", v)); err != nil {
		return err
	}
	sub, err := c.Subscribe(q, stomp.AckAuto)
	if err != nil {
		return err
	}
	m, err := readMsg(ctx, sub)
	if err != nil {
		return err
	}
	if got := m.Header.Get("tricky"); got != v {
		return fmt.Errorf("header came back as %q, want %q", got, v)
	}
	return nil
}

func stompLarge(ctx context.Context, e *env) error {
	q := stompQueue(e.name("large"))
	c, err := stompConn(ctx, e)
	if err != nil {
		return err
	}
	defer c.Disconnect()
	body := bytes.Repeat([]byte("0123456789abcdef"), 1<<16)
	if err := c.Send(q, "application/octet-stream", body, stomp.SendOpt.Receipt); err != nil {
		return err
	}
	sub, err := c.Subscribe(q, stomp.AckAuto)
	if err != nil {
		return err
	}
	m, err := readMsg(ctx, sub)
	if err != nil {
		return err
	}
	if !bytes.Equal(m.Body, body) {
		return fmt.Errorf("got %d bytes back, want the same %d", len(m.Body), len(body))
	}
	return nil
}

// rawSTOMP speaks STOMP by hand for what go-stomp cannot be made to send.
type rawSTOMP struct {
	nc net.Conn
	r  *bufio.Reader
}

func dialRawSTOMP(ctx context.Context, e *env, heartBeat string) (*rawSTOMP, map[string]string, error) {
	var d net.Dialer
	nc, err := d.DialContext(ctx, "tcp", e.STOMP)
	if err != nil {
		return nil, nil, err
	}
	if dl, ok := ctx.Deadline(); ok {
		_ = nc.SetDeadline(dl)
	}
	r := &rawSTOMP{nc: nc, r: bufio.NewReader(nc)}
	hdr := "CONNECT\naccept-version:1.2\nhost:/\nheart-beat:" + heartBeat + "\n"
	if e.User != "" {
		hdr += "login:" + e.User + "\npasscode:" + e.Password + "\n"
	}
	if _, err := nc.Write([]byte(hdr + "\n\x00")); err != nil {
		nc.Close()
		return nil, nil, err
	}
	cmd, h, _, err := r.read()
	if err != nil {
		nc.Close()
		return nil, nil, err
	}
	if cmd != "CONNECTED" {
		nc.Close()
		return nil, nil, fmt.Errorf("CONNECT answered %s: %s", cmd, h["message"])
	}
	return r, h, nil
}

// read returns the next frame, skipping heart-beat EOLs.
func (r *rawSTOMP) read() (cmd string, h map[string]string, body []byte, err error) {
	for cmd == "" {
		line, err := r.r.ReadString('\n')
		if err != nil {
			return "", nil, nil, err
		}
		cmd = strings.TrimRight(line, "\r\n")
	}
	h = map[string]string{}
	for {
		line, err := r.r.ReadString('\n')
		if err != nil {
			return "", nil, nil, err
		}
		line = strings.TrimRight(line, "\r\n")
		if line == "" {
			break
		}
		k, v, _ := strings.Cut(line, ":")
		if _, dup := h[k]; !dup {
			h[k] = v
		}
	}
	body, err = r.r.ReadBytes(0)
	if err != nil {
		return "", nil, nil, err
	}
	return cmd, h, body[:len(body)-1], nil
}

func stompHeartBeat(ctx context.Context, e *env) error {
	r, h, err := dialRawSTOMP(ctx, e, "0,500")
	if err != nil {
		return err
	}
	defer r.nc.Close()
	hb := h[frame.HeartBeat]
	sx, _, ok := strings.Cut(hb, ",")
	if n, err := strconv.Atoi(sx); !ok || err != nil || n == 0 {
		return fmt.Errorf("asked for server heart-beats every 500 ms; CONNECTED says heart-beat:%q", hb)
	}
	n, _ := strconv.Atoi(sx)
	// Expect a heart-beat (an EOL) within twice the agreed interval.
	_ = r.nc.SetReadDeadline(time.Now().Add(2*time.Duration(n)*time.Millisecond + 500*time.Millisecond))
	b, err := r.r.ReadByte()
	if err != nil {
		return fmt.Errorf("no heart-beat within twice the %d ms agreed: %w", n, err)
	}
	if b != '\n' && b != '\r' {
		return fmt.Errorf("got %q where a heart-beat was due", b)
	}
	return nil
}

func stompBadFrame(ctx context.Context, e *env) error {
	r, _, err := dialRawSTOMP(ctx, e, "0,0")
	if err != nil {
		return err
	}
	defer r.nc.Close()
	if _, err := r.nc.Write([]byte("FROBNICATE\nx:y\n\n\x00")); err != nil {
		return err
	}
	cmd, _, _, err := r.read()
	if err != nil {
		return fmt.Errorf("no ERROR frame for an unknown command: %w", err)
	}
	if cmd != "ERROR" {
		return fmt.Errorf("an unknown command was answered %s, want ERROR", cmd)
	}
	return nil
}
