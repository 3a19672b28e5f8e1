package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/Azure/go-amqp"
	"github.com/spf13/cobra"
)

// amqpDial connects with go-amqp: SASL PLAIN with --user, else ANONYMOUS;
// --client-id is the container id (durable subscriptions are kept per
// container, as JMS clients do).
func amqpDial(ctx context.Context, f clientFlags, addr string) (*amqp.Conn, error) {
	opts := &amqp.ConnOptions{SASLType: amqp.SASLTypeAnonymous(), ContainerID: f.clientID}
	if f.user != "" {
		opts.SASLType = amqp.SASLTypePlain(f.user, f.password)
	}
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	c, err := amqp.Dial(ctx, "amqp://"+addr, opts)
	if err != nil {
		return nil, fmt.Errorf("connecting to %s: %w", addr, err)
	}
	return c, nil
}

// amqpSession connects and begins a session; the caller closes the
// connection.
func amqpSession(ctx context.Context, f clientFlags, addr string) (*amqp.Conn, *amqp.Session, error) {
	conn, err := amqpDial(ctx, f, addr)
	if err != nil {
		return nil, nil, err
	}
	sess, err := conn.NewSession(ctx, nil)
	if err != nil {
		conn.Close()
		return nil, nil, fmt.Errorf("session: %w", err)
	}
	return conn, sess, nil
}

// amqpAddress takes an AMQP address as it is (orders, queue://orders,
// topic://news) and the STOMP forms /queue/x and /topic/x as their
// queue:// and topic:// equivalents, so one destination works for both.
func amqpAddress(dest string) string {
	switch {
	case strings.HasPrefix(dest, "/queue/"):
		return "queue://" + dest[len("/queue/"):]
	case strings.HasPrefix(dest, "/topic/"):
		return "topic://" + dest[len("/topic/"):]
	}
	return dest
}

// amqpMessage builds one message of send: a text content type gives an
// amqp-value string (a JMS TextMessage), anything else a data section.
func amqpMessage(f sendFlags, body string, props map[string]any) *amqp.Message {
	m := &amqp.Message{
		Header:                &amqp.MessageHeader{Durable: f.persistent, Priority: uint8(f.priority), TTL: f.ttl},
		Properties:            &amqp.MessageProperties{ContentType: &f.contentType},
		ApplicationProperties: props,
	}
	if strings.HasPrefix(f.contentType, "text/") {
		m.Value = body
	} else {
		m.Data = [][]byte{[]byte(body)}
	}
	return m
}

func amqpSend(cmd *cobra.Command, f sendFlags, addr, dest string, bodies <-chan string) error {
	if f.priority < 0 || f.priority > 9 {
		return fmt.Errorf("invalid --priority %d: want 0-9", f.priority)
	}
	props := map[string]any{}
	for _, h := range f.headers {
		k, v, ok := strings.Cut(h, "=")
		if !ok || k == "" {
			return fmt.Errorf("invalid --header %q: want KEY=VALUE", h)
		}
		props[k] = v
	}
	if len(props) == 0 {
		props = nil
	}
	ctx := cmd.Context()
	conn, sess, err := amqpSession(ctx, f.clientFlags, addr)
	if err != nil {
		return err
	}
	defer conn.Close()
	// Persistent messages are sent unsettled: Send returns once the broker
	// accepted (and stored) each. Others are sent settled.
	mode := amqp.SenderSettleModeSettled
	if f.persistent {
		mode = amqp.SenderSettleModeUnsettled
	}
	snd, err := sess.NewSender(ctx, amqpAddress(dest), &amqp.SenderOptions{SettlementMode: &mode})
	if err != nil {
		return fmt.Errorf("attaching a sender to %s: %w", dest, err)
	}
	defer snd.Close(context.Background())
	n := 0
	for body := range bodies {
		for i := 0; i < f.count; i++ {
			sctx, cancel := context.WithTimeout(ctx, 30*time.Second)
			err := snd.Send(sctx, amqpMessage(f, body, props), nil)
			cancel()
			if err != nil {
				return fmt.Errorf("send: %w", err)
			}
			n++
		}
	}
	fmt.Fprintf(cmd.ErrOrStderr(), "sent %d message(s) to %s\n", n, dest)
	return nil
}

func amqpReceive(ctx context.Context, cmd *cobra.Command, f receiveFlags, addr, dest string) error {
	auto := false
	switch f.ack {
	case "auto":
		auto = true
	case "client-individual":
	default:
		return fmt.Errorf("invalid --ack %q: want auto or client-individual", f.ack)
	}
	if f.durable != "" && f.clientID == "" {
		return errors.New("--durable needs --client-id (the subscription is kept per client)")
	}
	conn, sess, err := amqpSession(ctx, f.clientFlags, addr)
	if err != nil {
		return err
	}
	defer conn.Close()
	opts := &amqp.ReceiverOptions{Credit: 100}
	if auto {
		mode := amqp.SenderSettleModeSettled
		opts.RequestedSenderSettleMode = &mode
	}
	if f.selector != "" {
		opts.Filters = append(opts.Filters, amqp.NewSelectorFilter(f.selector))
	}
	if f.durable != "" {
		// A durable subscription as Qpid JMS asks for one: the link name is
		// the subscription, the source outlives the link.
		opts.Name = f.durable
		opts.SourceDurability = amqp.DurabilityUnsettledState
		opts.SourceExpiryPolicy = amqp.ExpiryPolicyNever
	}
	rcv, err := sess.NewReceiver(ctx, amqpAddress(dest), opts)
	if err != nil {
		return fmt.Errorf("attaching a receiver to %s: %w", dest, err)
	}
	if f.durable == "" {
		// go-amqp closes a link with detach(closed=true), which for a
		// durable subscription means unsubscribe: a durable receiver is
		// left to end with the connection, as Qpid JMS leaves it.
		defer rcv.Close(context.Background())
	}
	out := bufio.NewWriter(cmd.OutOrStdout())
	defer out.Flush()
	for n := 0; f.count == 0 || n < f.count; n++ {
		rctx, cancel := ctx, context.CancelFunc(func() {})
		if f.timeout > 0 {
			rctx, cancel = context.WithTimeout(ctx, f.timeout)
		}
		m, err := rcv.Receive(rctx, nil)
		cancel()
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, context.DeadlineExceeded) {
				return nil // interrupted, or --timeout passed without a message
			}
			return fmt.Errorf("receive: %w", err)
		}
		if f.headers {
			printAMQPHeaders(out, m)
		}
		out.Write(amqpBody(m))
		out.WriteByte('\n')
		out.Flush()
		if !auto {
			if err := rcv.AcceptMessage(ctx, m); err != nil {
				return fmt.Errorf("accept: %w", err)
			}
		}
	}
	return nil
}

// amqpBody is a message's body as printed: data sections as their bytes,
// a string value as its text, other values as Go prints them.
func amqpBody(m *amqp.Message) []byte {
	switch {
	case len(m.Data) > 0:
		var b []byte
		for _, d := range m.Data {
			b = append(b, d...)
		}
		return b
	case m.Value != nil:
		if s, ok := m.Value.(string); ok {
			return []byte(s)
		}
		return fmt.Appendf(nil, "%v", m.Value)
	case m.Sequence != nil:
		return fmt.Appendf(nil, "%v", m.Sequence)
	}
	return nil
}

func printAMQPHeaders(w io.Writer, m *amqp.Message) {
	lines := map[string]any{}
	if h := m.Header; h != nil {
		lines["durable"], lines["priority"], lines["delivery-count"] = h.Durable, h.Priority, h.DeliveryCount
		if h.TTL > 0 {
			lines["ttl"] = h.TTL
		}
	}
	if p := m.Properties; p != nil {
		set := func(k string, v *string) {
			if v != nil {
				lines[k] = *v
			}
		}
		if p.MessageID != nil {
			lines["message-id"] = p.MessageID
		}
		if p.CorrelationID != nil {
			lines["correlation-id"] = p.CorrelationID
		}
		set("to", p.To)
		set("subject", p.Subject)
		set("reply-to", p.ReplyTo)
		set("content-type", p.ContentType)
		set("group-id", p.GroupID)
		if p.CreationTime != nil {
			lines["creation-time"] = p.CreationTime.UTC().Format(time.RFC3339Nano)
		}
	}
	for k, v := range m.Annotations {
		lines[fmt.Sprint(k)] = v
	}
	for k, v := range m.ApplicationProperties {
		lines[k] = v
	}
	keys := make([]string, 0, len(lines))
	for k := range lines {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		fmt.Fprintf(w, "%s: %v\n", k, lines[k])
	}
}
