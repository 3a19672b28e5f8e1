package conformance

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/Azure/go-amqp"
)

func init() {
	register(
		check{protocol: "amqp", feature: "connect (SASL)", run: amqpConnect},
		check{protocol: "amqp", feature: "queue at-least-once in order", run: amqpQueue},
		check{protocol: "amqp", feature: "pre-settled send", run: amqpPresettled},
		check{protocol: "amqp", feature: "receiver credit 1", run: amqpCreditOne},
		check{protocol: "amqp", feature: "topic to every receiver", run: amqpTopic},
		check{protocol: "amqp", feature: "released is redelivered", run: amqpReleased},
		check{protocol: "amqp", feature: "rejected is not redelivered", run: amqpRejected},
		check{protocol: "amqp", feature: "properties and id types", run: amqpProperties},
		check{protocol: "amqp", feature: "1 MiB message (multi-frame)", run: amqpLarge},
		check{protocol: "amqp", feature: "dynamic receiver (temporary queue)", run: amqpDynamic},
		check{protocol: "amqp", feature: "anonymous relay", run: amqpAnonymousRelay},
		check{protocol: "amqp", feature: "selector filter", run: amqpSelector},
		check{protocol: "amqp", feature: "drain", run: amqpDrain},
	)
}

// amqpSession connects with go-amqp's defaults (SASL PLAIN with a user,
// else ANONYMOUS) and opens one session; close ends both.
func amqpSession(ctx context.Context, e *env) (*amqp.Session, func(), error) {
	opts := &amqp.ConnOptions{SASLType: amqp.SASLTypeAnonymous()}
	if e.User != "" {
		opts.SASLType = amqp.SASLTypePlain(e.User, e.Password)
	}
	c, err := amqp.Dial(ctx, "amqp://"+e.AMQP, opts)
	if err != nil {
		return nil, nil, err
	}
	s, err := c.NewSession(ctx, nil)
	if err != nil {
		c.Close()
		return nil, nil, err
	}
	return s, func() { c.Close() }, nil
}

// amqpProduct is what the broker's open frame says it is ("product" and
// "version" properties), or "".
func amqpProduct(ctx context.Context, e *env) string {
	opts := &amqp.ConnOptions{SASLType: amqp.SASLTypeAnonymous()}
	if e.User != "" {
		opts.SASLType = amqp.SASLTypePlain(e.User, e.Password)
	}
	c, err := amqp.Dial(ctx, "amqp://"+e.AMQP, opts)
	if err != nil {
		return ""
	}
	defer c.Close()
	p := c.Properties()
	name, _ := p["product"].(string)
	if v, ok := p["version"].(string); ok && name != "" {
		name += "/" + v
	}
	return name
}

// refused turns a broker's refusal of an optional feature into SKIP,
// except on Junction, which claims every feature checked here.
func (e *env) refused(what string, err error) error {
	var ae *amqp.Error
	if e.prof.name != "junction" && errors.As(err, &ae) {
		return skipf("%s refused: %s %s", what, ae.Condition, ae.Description)
	}
	if e.prof.name != "junction" {
		var le *amqp.LinkError
		if errors.As(err, &le) && le.RemoteErr != nil {
			return skipf("%s refused: %s %s", what, le.RemoteErr.Condition, le.RemoteErr.Description)
		}
	}
	return fmt.Errorf("%s: %w", what, err)
}

func send1(ctx context.Context, s *amqp.Session, target string, msgs ...*amqp.Message) error {
	snd, err := s.NewSender(ctx, target, nil)
	if err != nil {
		return fmt.Errorf("attaching a sender to %s: %w", target, err)
	}
	defer closeLink(ctx, snd)
	for i, m := range msgs {
		if err := snd.Send(ctx, m, nil); err != nil {
			return fmt.Errorf("sending message %d to %s: %w", i+1, target, err)
		}
	}
	return nil
}

// declare makes sure a queue exists before anything is sent to it: some
// brokers (RabbitMQ) create a queue for a receiver's attach but drop what
// a sender sends to a queue that does not exist. A receiver that never
// grants credit is attached and closed.
func declare(ctx context.Context, s *amqp.Session, q string) error {
	r, err := s.NewReceiver(ctx, q, &amqp.ReceiverOptions{Credit: -1})
	if err != nil {
		return fmt.Errorf("attaching a receiver to %s: %w", q, err)
	}
	closeLink(ctx, r)
	return nil
}

// closeLink detaches a link without waiting long for the broker's answer:
// RabbitMQ 3.10 never answers a sender's detach, and a check must not
// spend its time limit there.
func closeLink(ctx context.Context, l interface{ Close(context.Context) error }) {
	ctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	_ = l.Close(ctx)
}

func text(m *amqp.Message) string {
	if v, ok := m.Value.(string); ok {
		return v
	}
	return string(m.GetData())
}

func amqpConnect(ctx context.Context, e *env) error {
	_, done, err := amqpSession(ctx, e)
	if err != nil {
		return err
	}
	done()
	return nil
}

func amqpQueue(ctx context.Context, e *env) error {
	s, done, err := amqpSession(ctx, e)
	if err != nil {
		return err
	}
	defer done()
	q := e.prof.amqpQueue(e.name("queue"))
	r, err := s.NewReceiver(ctx, q, nil)
	if err != nil {
		return fmt.Errorf("attaching a receiver to %s: %w", q, err)
	}
	var msgs []*amqp.Message
	for i := range 10 {
		msgs = append(msgs, amqp.NewMessage([]byte(strconv.Itoa(i))))
	}
	if err := send1(ctx, s, q, msgs...); err != nil {
		return err
	}
	for i := range 10 {
		m, err := r.Receive(ctx, nil)
		if err != nil {
			return fmt.Errorf("message %d: %w", i, err)
		}
		if text(m) != strconv.Itoa(i) {
			return fmt.Errorf("message %d is %q: out of order", i, text(m))
		}
		if err := r.AcceptMessage(ctx, m); err != nil {
			return err
		}
	}
	return nil
}

func amqpPresettled(ctx context.Context, e *env) error {
	s, done, err := amqpSession(ctx, e)
	if err != nil {
		return err
	}
	defer done()
	q := e.prof.amqpQueue(e.name("presettled"))
	// The receiver first: a pre-settled message is the broker's to keep
	// only once it took it, so have a place ready for it.
	r, err := s.NewReceiver(ctx, q, nil)
	if err != nil {
		return fmt.Errorf("attaching a receiver to %s: %w", q, err)
	}
	snd, err := s.NewSender(ctx, q, &amqp.SenderOptions{SettlementMode: amqp.SenderSettleModeSettled.Ptr()})
	if err != nil {
		return err
	}
	defer closeLink(ctx, snd)
	if err := snd.Send(ctx, amqp.NewMessage([]byte("fire and forget")), nil); err != nil {
		return err
	}
	m, err := r.Receive(ctx, nil)
	if err != nil {
		return err
	}
	if text(m) != "fire and forget" {
		return fmt.Errorf("got %q", text(m))
	}
	return r.AcceptMessage(ctx, m)
}

func amqpCreditOne(ctx context.Context, e *env) error {
	s, done, err := amqpSession(ctx, e)
	if err != nil {
		return err
	}
	defer done()
	q := e.prof.amqpQueue(e.name("credit1"))
	r, err := s.NewReceiver(ctx, q, &amqp.ReceiverOptions{Credit: 1})
	if err != nil {
		return fmt.Errorf("attaching a receiver to %s: %w", q, err)
	}
	var msgs []*amqp.Message
	for i := range 20 {
		msgs = append(msgs, amqp.NewMessage([]byte(strconv.Itoa(i))))
	}
	if err := send1(ctx, s, q, msgs...); err != nil {
		return err
	}
	for i := range 20 {
		m, err := r.Receive(ctx, nil)
		if err != nil {
			return fmt.Errorf("message %d of 20 with credit 1: %w", i+1, err)
		}
		if err := r.AcceptMessage(ctx, m); err != nil {
			return err
		}
	}
	return nil
}

func amqpTopic(ctx context.Context, e *env) error {
	s, done, err := amqpSession(ctx, e)
	if err != nil {
		return err
	}
	defer done()
	t := e.prof.amqpTopic(e.name("topic"))
	var rs []*amqp.Receiver
	for range 2 {
		r, err := s.NewReceiver(ctx, t, &amqp.ReceiverOptions{SourceCapabilities: []string{"topic"}})
		if err != nil {
			return err
		}
		rs = append(rs, r)
	}
	snd, err := s.NewSender(ctx, t, &amqp.SenderOptions{TargetCapabilities: []string{"topic"}})
	if err != nil {
		return err
	}
	defer closeLink(ctx, snd)
	if err := snd.Send(ctx, amqp.NewMessage([]byte("to all")), nil); err != nil {
		return err
	}
	for i, r := range rs {
		m, err := r.Receive(ctx, nil)
		if err != nil {
			return fmt.Errorf("receiver %d: %w", i+1, err)
		}
		_ = r.AcceptMessage(ctx, m)
	}
	return nil
}

func amqpReleased(ctx context.Context, e *env) error {
	s, done, err := amqpSession(ctx, e)
	if err != nil {
		return err
	}
	defer done()
	q := e.prof.amqpQueue(e.name("released"))
	r, err := s.NewReceiver(ctx, q, &amqp.ReceiverOptions{Credit: 1})
	if err != nil {
		return fmt.Errorf("attaching a receiver to %s: %w", q, err)
	}
	if err := send1(ctx, s, q, amqp.NewMessage([]byte("again"))); err != nil {
		return err
	}
	m, err := r.Receive(ctx, nil)
	if err != nil {
		return err
	}
	if err := r.ReleaseMessage(ctx, m); err != nil {
		return err
	}
	m, err = r.Receive(ctx, nil)
	if err != nil {
		return fmt.Errorf("a released message did not come back: %w", err)
	}
	if text(m) != "again" {
		return fmt.Errorf("got %q", text(m))
	}
	return r.AcceptMessage(ctx, m)
}

func amqpRejected(ctx context.Context, e *env) error {
	s, done, err := amqpSession(ctx, e)
	if err != nil {
		return err
	}
	defer done()
	q := e.prof.amqpQueue(e.name("rejected"))
	r, err := s.NewReceiver(ctx, q, &amqp.ReceiverOptions{Credit: 1})
	if err != nil {
		return fmt.Errorf("attaching a receiver to %s: %w", q, err)
	}
	if err := send1(ctx, s, q, amqp.NewMessage([]byte("bad")), amqp.NewMessage([]byte("good"))); err != nil {
		return err
	}
	m, err := r.Receive(ctx, nil)
	if err != nil {
		return err
	}
	if err := r.RejectMessage(ctx, m, &amqp.Error{Condition: "app:bad-input", Description: "conformance check"}); err != nil {
		return err
	}
	m, err = r.Receive(ctx, nil)
	if err != nil {
		return err
	}
	if text(m) != "good" {
		return fmt.Errorf("got %q after the rejection: a rejected message came back", text(m))
	}
	return r.AcceptMessage(ctx, m)
}

func amqpProperties(ctx context.Context, e *env) error {
	s, done, err := amqpSession(ctx, e)
	if err != nil {
		return err
	}
	defer done()
	q := e.prof.amqpQueue(e.name("props"))
	ids := []any{"id-string", uint64(77), amqp.UUID{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16}, []byte{0xca, 0xfe}}
	var msgs []*amqp.Message
	for i, id := range ids {
		m := amqp.NewMessage([]byte("p" + strconv.Itoa(i)))
		m.Properties = &amqp.MessageProperties{MessageID: id, CorrelationID: id, Subject: ptr("subject"), ContentType: ptr("text/plain")}
		m.ApplicationProperties = map[string]any{"s": "str", "i": int32(-5), "l": int64(1 << 40), "b": true, "d": 2.5}
		msgs = append(msgs, m)
	}
	r, err := s.NewReceiver(ctx, q, nil)
	if err != nil {
		return fmt.Errorf("attaching a receiver to %s: %w", q, err)
	}
	if err := send1(ctx, s, q, msgs...); err != nil {
		return err
	}
	for i, id := range ids {
		m, err := r.Receive(ctx, nil)
		if err != nil {
			return err
		}
		_ = r.AcceptMessage(ctx, m)
		if m.Properties == nil {
			return fmt.Errorf("message %d lost its properties section", i)
		}
		if !sameID(m.Properties.MessageID, id) || !sameID(m.Properties.CorrelationID, id) {
			return fmt.Errorf("id %T %v came back as message-id %T %v, correlation-id %T %v", id, id, m.Properties.MessageID, m.Properties.MessageID, m.Properties.CorrelationID, m.Properties.CorrelationID)
		}
		if m.Properties.Subject == nil || *m.Properties.Subject != "subject" {
			return fmt.Errorf("subject came back as %v", m.Properties.Subject)
		}
		ap := m.ApplicationProperties
		if ap["s"] != "str" || ap["i"] != int32(-5) || ap["l"] != int64(1<<40) || ap["b"] != true || ap["d"] != 2.5 {
			return fmt.Errorf("application properties came back as %#v", ap)
		}
	}
	return nil
}

func sameID(a, b any) bool {
	if ab, ok := a.([]byte); ok {
		bb, ok := b.([]byte)
		return ok && bytes.Equal(ab, bb)
	}
	return a == b
}

func amqpLarge(ctx context.Context, e *env) error {
	s, done, err := amqpSession(ctx, e)
	if err != nil {
		return err
	}
	defer done()
	q := e.prof.amqpQueue(e.name("large"))
	body := bytes.Repeat([]byte("0123456789abcdef"), 1<<16)
	r, err := s.NewReceiver(ctx, q, nil)
	if err != nil {
		return fmt.Errorf("attaching a receiver to %s: %w", q, err)
	}
	if err := send1(ctx, s, q, amqp.NewMessage(body)); err != nil {
		return err
	}
	m, err := r.Receive(ctx, nil)
	if err != nil {
		return err
	}
	_ = r.AcceptMessage(ctx, m)
	if !bytes.Equal(m.GetData(), body) {
		return fmt.Errorf("got %d bytes back, want the same %d", len(m.GetData()), len(body))
	}
	return nil
}

func amqpDynamic(ctx context.Context, e *env) error {
	s, done, err := amqpSession(ctx, e)
	if err != nil {
		return err
	}
	defer done()
	r, err := s.NewReceiver(ctx, "", &amqp.ReceiverOptions{DynamicAddress: true})
	if err != nil {
		return e.refused("a dynamic receiver", err)
	}
	addr := r.Address()
	if addr == "" {
		return errors.New("the dynamic receiver was given no address")
	}
	if err := send1(ctx, s, addr, amqp.NewMessage([]byte("reply"))); err != nil {
		return fmt.Errorf("sending to the temporary queue %q: %w", addr, err)
	}
	m, err := r.Receive(ctx, nil)
	if err != nil {
		return err
	}
	return r.AcceptMessage(ctx, m)
}

func amqpAnonymousRelay(ctx context.Context, e *env) error {
	s, done, err := amqpSession(ctx, e)
	if err != nil {
		return err
	}
	defer done()
	q := e.prof.amqpQueue(e.name("relay"))
	r, err := s.NewReceiver(ctx, q, nil)
	if err != nil {
		return fmt.Errorf("attaching a receiver to %s: %w", q, err)
	}
	snd, err := s.NewSender(ctx, "", nil)
	if err != nil {
		return e.refused("a sender with no target (anonymous relay)", err)
	}
	defer closeLink(ctx, snd)
	m := amqp.NewMessage([]byte("relayed"))
	m.Properties = &amqp.MessageProperties{To: &q}
	if err := snd.Send(ctx, m, nil); err != nil {
		return e.refused("a message routed by its to", err)
	}
	got, err := r.Receive(ctx, nil)
	if err != nil {
		return err
	}
	return r.AcceptMessage(ctx, got)
}

func amqpSelector(ctx context.Context, e *env) error {
	s, done, err := amqpSession(ctx, e)
	if err != nil {
		return err
	}
	defer done()
	q := e.prof.amqpQueue(e.name("selector"))
	if err := declare(ctx, s, q); err != nil {
		return err
	}
	var msgs []*amqp.Message
	for _, c := range []string{"blue", "red"} {
		m := amqp.NewMessage([]byte(c))
		m.ApplicationProperties = map[string]any{"color": c}
		msgs = append(msgs, m)
	}
	if err := send1(ctx, s, q, msgs...); err != nil {
		return err
	}
	// Credit for both messages, so that a broker that ignores the filter
	// shows it by delivering blue.
	r, err := s.NewReceiver(ctx, q, &amqp.ReceiverOptions{Credit: 10, Filters: []amqp.LinkFilter{amqp.NewSelectorFilter("color = 'red'")}})
	if err != nil {
		return e.refused("a selector filter", err)
	}
	m, err := r.Receive(ctx, nil)
	if err != nil {
		return fmt.Errorf("nothing received through the selector: %w", err)
	}
	_ = r.AcceptMessage(ctx, m)
	if text(m) != "red" {
		if e.prof.name != "junction" {
			return skipf("the selector filter was ignored (got %q first): not supported", text(m))
		}
		return fmt.Errorf("the selector filter was ignored: got %q", text(m))
	}
	return nil
}

func amqpDrain(ctx context.Context, e *env) error {
	s, done, err := amqpSession(ctx, e)
	if err != nil {
		return err
	}
	defer done()
	q := e.prof.amqpQueue(e.name("drain"))
	if err := declare(ctx, s, q); err != nil {
		return err
	}
	if err := send1(ctx, s, q, amqp.NewMessage([]byte("only one"))); err != nil {
		return err
	}
	r, err := s.NewReceiver(ctx, q, &amqp.ReceiverOptions{Credit: -1})
	if err != nil {
		return fmt.Errorf("attaching a receiver to %s: %w", q, err)
	}
	// Five credits for one message: it arrives, four credits are left.
	// (go-amqp sends credit and drain in one flow if asked for both at
	// once, and then drops the credit; so the message is received first.)
	if err := r.IssueCredit(5); err != nil {
		return fmt.Errorf("issuing credit: %w", err)
	}
	m, err := r.Receive(ctx, nil)
	if err != nil {
		return fmt.Errorf("nothing received for the credit: %w", err)
	}
	if err := r.AcceptMessage(ctx, m); err != nil {
		return err
	}
	// The drain must come back at once, the four credits used up by
	// advancing the delivery count, as nothing else is waiting.
	dctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := r.DrainCredit(dctx, nil); err != nil {
		return fmt.Errorf("drain was not answered: %w", err)
	}
	if m := r.Prefetched(); m != nil {
		return fmt.Errorf("a message arrived after the drain: %q", text(m))
	}
	return nil
}

func ptr[T any](v T) *T { return &v }
