package plugins_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/junctionmq/junction/config"
	"github.com/junctionmq/junction/core"
	"github.com/junctionmq/junction/plugins"
	"github.com/junctionmq/junction/plugins/tracing"
	"github.com/junctionmq/junction/storage/memory"
)

// recorder implements every message and resource hook and records each
// call as a line; events are sent on ch as well, for awaiting.
type recorder struct {
	mu    sync.Mutex
	lines []string
	ch    chan string
	// refuse makes BeforeSend refuse messages to this address.
	refuse string
}

func (r *recorder) add(format string, args ...any) {
	line := fmt.Sprintf(format, args...)
	r.mu.Lock()
	r.lines = append(r.lines, line)
	r.mu.Unlock()
	select {
	case r.ch <- line:
	default:
	}
}

func (r *recorder) has(line string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, l := range r.lines {
		if l == line {
			return true
		}
	}
	return false
}

func (r *recorder) BeforeSend(_ *core.Session, m *core.Message) error {
	r.add("before-send %s", m.Address)
	if m.Address == r.refuse {
		return errors.New("not here")
	}
	return nil
}
func (r *recorder) AfterSend(_ *core.Session, m *core.Message, qs []*core.Queue, err error) {
	r.add("after-send %s %d %v", m.Address, len(qs), err)
}
func (r *recorder) BeforeDeliver(q *core.Queue, d core.Delivery) {
	r.add("before-deliver %s", q.Name())
}
func (r *recorder) AfterDeliver(q *core.Queue, d core.Delivery) { r.add("after-deliver %s", q.Name()) }
func (r *recorder) MessageAcknowledged(q *core.Queue, m *core.Message, c *core.Consumer) {
	r.add("acked %s", q.Name())
}
func (r *recorder) MessageExpired(q *core.Queue, m, to *core.Message) {
	r.add("expired %s to %s", q.Name(), to.Address)
}
func (r *recorder) MessageDeadLettered(q *core.Queue, m, to *core.Message, reason string) {
	r.add("dead-lettered %s to %s (%s)", q.Name(), to.Address, reason)
}
func (r *recorder) AddressCreated(name string)            { r.add("address+ %s", name) }
func (r *recorder) AddressDestroyed(name string)          { r.add("address- %s", name) }
func (r *recorder) QueueCreated(i core.QueueInfo)         { r.add("queue+ %s", i.Name) }
func (r *recorder) QueueDestroyed(i core.QueueInfo)       { r.add("queue- %s", i.Name) }
func (r *recorder) ConnectionCreated(core.ConnectionInfo) {}

var theRecorder = &recorder{ch: make(chan string, 1024)}

func init() {
	plugins.Register("test-recorder", func(env plugins.Env) (any, error) {
		var o struct {
			Refuse string `yaml:"refuse"`
		}
		if err := env.Options.Decode(&o); err != nil {
			return nil, err
		}
		theRecorder.refuse = o.Refuse
		return theRecorder, nil
	})
}

// hookBroker is a core broker with the recorder and the tracing plugin.
func hookBroker(t *testing.T) (*core.Broker, *tracing.Tracer) {
	t.Helper()
	ropts, err := config.OptionsFromYAML("refuse: forbidden")
	if err != nil {
		t.Fatal(err)
	}
	topts, err := config.OptionsFromYAML("{capacity: 1000, log: false}")
	if err != nil {
		t.Fatal(err)
	}
	set, err := plugins.Load([]plugins.Spec{{Name: "test-recorder", Options: ropts}, {Name: "tracing", Options: topts}}, nil, "", t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = set.Close() })
	if got := set.Names(); strings.Join(got, ",") != "test-recorder,tracing" {
		t.Fatalf("Names %v", got)
	}
	one := 1
	b, err := core.New(core.Config{Store: memory.New(), Logger: slog.New(slog.DiscardHandler), Hooks: set.Hooks(),
		ReaperInterval:  10 * time.Millisecond,
		AddressSettings: map[string]*core.AddressSettings{"#": {MaxDeliveryAttempts: &one}}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = b.Close() })
	return b, set.Plugin("tracing").(*tracing.Tracer)
}

func await(t *testing.T, r *recorder, line string) {
	t.Helper()
	deadline := time.After(waitFor)
	for !r.has(line) {
		select {
		case <-r.ch:
		case <-deadline:
			r.mu.Lock()
			defer r.mu.Unlock()
			t.Fatalf("no hook call %q; calls:\n%s", line, strings.Join(r.lines, "\n"))
		}
	}
}

// TestHooksInTheCore: every hook point fires, for two plugins at once, in
// the order the core reaches them; a refusal stops the send before routing.
func TestHooksInTheCore(t *testing.T) {
	b, tr := hookBroker(t)
	r := theRecorder
	s := b.NewSession(core.SessionOptions{Protocol: "test", Connection: 42})
	defer s.Close()
	ctx := context.Background()

	err := s.Send(ctx, &core.Message{Address: "forbidden", RoutingType: core.Anycast, Body: []byte("x")}, nil)
	var rej *core.RejectedError
	if !errors.As(err, &rej) || !errors.Is(err, core.ErrRejected) || !strings.Contains(err.Error(), "not here") {
		t.Fatalf("send to the refused address: %v; want a RejectedError with the plugin's reason", err)
	}
	if _, ok := b.Address("forbidden"); ok {
		t.Error("a refused send created its address")
	}

	deliveries := make(chan core.Delivery, 10)
	c, err := s.Consume("work", core.ConsumerOptions{Handler: func(d core.Delivery) { deliveries <- d }, Credit: 10, Window: true})
	if err != nil {
		t.Fatal(err)
	}
	await(t, r, "address+ work")
	await(t, r, "queue+ work")
	m := &core.Message{Address: "work", RoutingType: core.Anycast, Body: []byte("job")}
	if err := s.Send(ctx, m, nil); err != nil {
		t.Fatal(err)
	}
	d := <-deliveries
	if err := c.Ack(d.Tag); err != nil {
		t.Fatal(err)
	}
	await(t, r, "acked work")
	r.mu.Lock()
	var seq []string
	for _, l := range r.lines {
		if strings.HasSuffix(l, "work") || strings.HasPrefix(l, "after-send work") {
			seq = append(seq, l)
		}
	}
	r.mu.Unlock()
	want := "address+ work,queue+ work,before-send work,after-send work 1 <nil>,before-deliver work,after-deliver work,acked work"
	if got := strings.Join(seq, ","); got != want {
		t.Errorf("hook order:\n got %s\nwant %s", got, want)
	}

	// Dead-lettering (max-delivery-attempts 1): the copy is linked.
	m2 := &core.Message{Address: "work", RoutingType: core.Anycast, Body: []byte("poison")}
	if err := s.Send(ctx, m2, nil); err != nil {
		t.Fatal(err)
	}
	d = <-deliveries
	if err := c.Nack(d.Tag); err != nil {
		t.Fatal(err)
	}
	await(t, r, "dead-lettered work to DLQ (max-delivery-attempts 1 reached)")
	dlq, err := s.Consume("DLQ", core.ConsumerOptions{Handler: func(d core.Delivery) { deliveries <- d }, Credit: 10, Window: true})
	if err != nil {
		t.Fatal(err)
	}
	d = <-deliveries
	if err := dlq.Ack(d.Tag); err != nil {
		t.Fatal(err)
	}
	await(t, r, "acked DLQ")
	var kinds []string
	for _, e := range tr.Trace(m2.ID) {
		kinds = append(kinds, fmt.Sprintf("%s:%s", e.Kind, e.Queue))
		if e.Kind == "sent" && (e.Protocol != "test" || e.Connection != 42) {
			t.Errorf("sent event %+v: want the session's protocol and connection", e)
		}
	}
	if got, want := strings.Join(kinds, ","), "sent:,delivered:work,dead-lettered:work,delivered:DLQ,acknowledged:DLQ"; got != want {
		t.Errorf("trace of the dead-lettered message:\n got %s\nwant %s", got, want)
	}
	if got := tr.Trace(d.Message.ID); len(got) != 5 {
		t.Errorf("trace from the copy's id finds %d events, want the same 5", len(got))
	}

	// Expiry to the expiry address, reported with its copy.
	if err := s.Send(ctx, &core.Message{Address: "later", RoutingType: core.Anycast, Body: []byte("old"),
		Expiration: time.Now().Add(-time.Second).UnixMilli()}, nil); err != nil {
		t.Fatal(err)
	}
	await(t, r, "expired later to ExpiryQueue")

	// Queue deletion: the auto-created queue goes with its last consumer.
	c.Close()
	await(t, r, "queue- work")

	// An operator's address, created and deleted.
	if err := b.CreateAddress("gone", core.Multicast); err != nil {
		t.Fatal(err)
	}
	await(t, r, "address+ gone")
	if err := b.DeleteAddress("gone", false); err != nil {
		t.Fatal(err)
	}
	await(t, r, "address- gone")
}

// TestNilSet: a broker without plugins has no hooks and a nil Set does
// nothing.
func TestNilSet(t *testing.T) {
	var s *plugins.Set
	h := s.Hooks()
	if h.BeforeSend != nil || h.AfterSend != nil || h.BeforeDeliver != nil || h.Acknowledged != nil || h.ConnectionCreated != nil {
		t.Fatal("a nil Set has hooks")
	}
	s.ManagementAction(plugins.ManagementAction{Name: "x"})
	if s.Routes() != nil || s.AuditHandler() != nil || s.Close() != nil || s.Plugin("audit") != nil {
		t.Fatal("a nil Set is not empty")
	}
	if got := strings.Join(plugins.HooksOf(theRecorder), ","); got != "ConnectionCreated,BeforeSend,AfterSend,BeforeDeliver,AfterDeliver,MessageAcknowledged,MessageExpired,MessageDeadLettered,AddressCreated,AddressDestroyed,QueueCreated,QueueDestroyed" {
		t.Errorf("HooksOf(recorder) = %s", got)
	}
	// A loaded plugin without a hook leaves it nil.
	set, err := plugins.Load([]plugins.Spec{{Name: "tracing"}}, nil, "", t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer set.Close()
	if h := set.Hooks(); h.BeforeSend != nil || h.ConnectionCreated != nil || h.QueueCreated != nil || h.AfterSend == nil || h.BeforeDeliver == nil {
		t.Fatalf("tracing's hooks: %+v", h)
	}
}
