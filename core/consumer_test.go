package core

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/junctionmq/junction/core/prop"
)

// anyq sends n messages "0".."n-1" to an anycast queue.
func fillQueue(t *testing.T, s *Session, queue string, n int) {
	t.Helper()
	for i := range n {
		m := msg(queue, fmt.Sprint(i))
		m.RoutingType = Anycast
		send(t, s, m)
	}
}

func TestConsumerCredit(t *testing.T) {
	b := newTestBroker(t, Config{})
	s := newSession(t, b, SessionOptions{})
	c, col := consume(t, s, "q", ConsumerOptions{Credit: 2})
	fillQueue(t, s, "q", 5)
	first := col.take(t, 2)
	col.none(t)
	if got := c.Credit(); got != 0 {
		t.Errorf("Credit = %d, want 0", got)
	}
	if got := c.InFlight(); got != 2 {
		t.Errorf("InFlight = %d, want 2", got)
	}
	// Without Window, settling gives no credit back.
	ackAll(t, first)
	col.none(t)
	c.AddCredit(2)
	if got := bodies(col.take(t, 2)); !slices.Equal(got, []string{"2", "3"}) {
		t.Errorf("after AddCredit got %v", got)
	}
	col.none(t)
	c.SetCredit(10)
	if got := bodies(col.take(t, 1)); got[0] != "4" {
		t.Errorf("after SetCredit got %v", got)
	}
	if st := c.Queue().Stats(); st.Ready != 0 || st.InFlight != 3 || st.Consumers != 1 {
		t.Errorf("stats = %+v", st)
	}
}

func TestConsumerWindowPrefetch(t *testing.T) {
	b := newTestBroker(t, Config{})
	s := newSession(t, b, SessionOptions{})
	c, col := consume(t, s, "q", ConsumerOptions{Credit: 3, Window: true})
	fillQueue(t, s, "q", 10)
	got := col.take(t, 3)
	col.none(t)
	tests := []struct {
		name   string
		settle func(d Delivery) error
	}{
		{"ack", func(d Delivery) error { return c.Ack(d.Tag) }},
		{"nack", func(d Delivery) error { return c.Nack(d.Tag) }},
		{"release", func(d Delivery) error { return c.Release(d.Tag) }},
		{"reject", func(d Delivery) error { return c.Reject(d.Tag, "") }},
	}
	for i, tt := range tests {
		d := got[0]
		got = got[1:]
		if err := tt.settle(d); err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		// Each settlement gives exactly one credit back: one new delivery.
		got = append(got, col.next(t, waitTimeout))
		col.none(t)
		if n := c.InFlight(); n != 3 {
			t.Errorf("after %s (%d): InFlight = %d, want 3", tt.name, i, n)
		}
	}
}

func TestConsumerSelector(t *testing.T) {
	b := newTestBroker(t, Config{})
	s := newSession(t, b, SessionOptions{})
	_, red := consume(t, s, "cars", ConsumerOptions{Selector: "color = 'red' AND weight > 10"})
	colors := []struct {
		color  string
		weight int
	}{{"red", 20}, {"blue", 20}, {"red", 5}, {"red", 11}}
	for i, c := range colors {
		m := msg("cars", fmt.Sprint(i), "color", c.color, "weight", c.weight)
		m.RoutingType = Anycast
		send(t, s, m)
	}
	if got := bodies(red.take(t, 2)); !slices.Equal(got, []string{"0", "3"}) {
		t.Errorf("selective consumer got %v", got)
	}
	red.none(t)
	// What the selector skipped stays for others, in order.
	_, all := consume(t, s, "cars", ConsumerOptions{})
	if got := bodies(all.take(t, 2)); !slices.Equal(got, []string{"1", "2"}) {
		t.Errorf("unselective consumer got %v", got)
	}
}

func TestSelectorOnHeaders(t *testing.T) {
	b := newTestBroker(t, Config{})
	s := newSession(t, b, SessionOptions{User: "alice"})
	tests := []struct {
		sel  string
		m    func() *Message
		want bool
	}{
		{"JMSPriority > 5", func() *Message { m := msg("h", ""); m.Priority = 7; return m }, true},
		{"JMSPriority > 5", func() *Message { return msg("h", "") }, false},
		{"JMSType = 'order'", func() *Message { m := msg("h", ""); m.Type = "order"; return m }, true},
		{"JMSCorrelationID = 'c1'", func() *Message { m := msg("h", ""); m.CorrelationID = stringValue("c1"); return m }, true},
		{"JMSDeliveryMode = 'PERSISTENT'", func() *Message { m := msg("h", ""); m.Durable = true; return m }, true},
		{"JMSDeliveryMode = 'PERSISTENT'", func() *Message { return msg("h", "") }, false},
		{"JMSXGroupID = 'g'", func() *Message { m := msg("h", ""); m.GroupID = "g"; return m }, true},
		{"JMSXUserID = 'alice'", func() *Message { return msg("h", "") }, true},
		{"JMSType IS NULL", func() *Message { return msg("h", "") }, true},
	}
	for i, tt := range tests {
		t.Run(tt.sel, func(t *testing.T) {
			q := fmt.Sprintf("h.%d", i)
			c, col := consume(t, s, q, ConsumerOptions{Selector: tt.sel, AutoAck: true})
			defer c.Close()
			m := tt.m()
			m.Address = q
			m.RoutingType = Anycast
			send(t, s, m)
			if got := len(col.ch) == 1; got != tt.want {
				t.Errorf("selected = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestAckIndividualAndCumulative(t *testing.T) {
	b := newTestBroker(t, Config{})
	s := newSession(t, b, SessionOptions{})
	c, col := consume(t, s, "q", ConsumerOptions{})
	fillQueue(t, s, "q", 6)
	ds := col.take(t, 6)
	// Individual ack of the second leaves the first unsettled.
	if err := c.Ack(ds[1].Tag); err != nil {
		t.Fatal(err)
	}
	if err := c.Ack(ds[1].Tag); !errors.Is(err, ErrUnknownDelivery) {
		t.Errorf("double ack: err = %v, want ErrUnknownDelivery", err)
	}
	// Cumulative ack up to the fourth settles the first, third and fourth.
	if err := c.AckUpTo(ds[3].Tag); err != nil {
		t.Fatal(err)
	}
	if n := c.InFlight(); n != 2 {
		t.Errorf("InFlight = %d, want 2", n)
	}
	for _, d := range ds[:4] {
		if err := c.Ack(d.Tag); !errors.Is(err, ErrUnknownDelivery) {
			t.Errorf("tag %d still in flight after AckUpTo", d.Tag)
		}
	}
	if err := c.AckUpTo(9999); !errors.Is(err, ErrUnknownDelivery) {
		t.Errorf("AckUpTo unknown tag: err = %v", err)
	}
	st := c.Queue().Stats()
	if st.Acked != 4 || st.Messages != 2 {
		t.Errorf("stats = %+v, want 4 acked, 2 left", st)
	}
}

func TestAutoAck(t *testing.T) {
	b := newTestBroker(t, Config{})
	s := newSession(t, b, SessionOptions{})
	c, col := consume(t, s, "q", ConsumerOptions{AutoAck: true, Credit: 2})
	fillQueue(t, s, "q", 3)
	col.take(t, 2)
	if n := c.InFlight(); n != 0 {
		t.Errorf("auto-ack consumer has %d in flight", n)
	}
	if st := c.Queue().Stats(); st.Messages != 1 || st.Acked != 2 {
		t.Errorf("stats = %+v", st)
	}
}

func TestSettlementOutcomes(t *testing.T) {
	dlq := Config{AddressSettings: settings("#", &AddressSettings{DeadLetterAddress: ptr("DLQ")})}
	tests := []struct {
		name          string
		settle        func(c *Consumer, tag uint64) error
		wantRequeued  bool
		wantCount     uint32 // delivery count on redelivery
		wantDLQReason string
	}{
		{"release keeps the count", (*Consumer).Release, true, 1, ""},
		{"nack increments", (*Consumer).Nack, true, 2, ""},
		{"modified failed increments", func(c *Consumer, tag uint64) error { return c.Modify(tag, true, false) }, true, 2, ""},
		{"modified not failed is a release", func(c *Consumer, tag uint64) error { return c.Modify(tag, false, false) }, true, 1, ""},
		{"reject dead-letters", func(c *Consumer, tag uint64) error { return c.Reject(tag, "") }, false, 0, "rejected"},
		{"reject keeps its reason", func(c *Consumer, tag uint64) error { return c.Reject(tag, "bad payload") }, false, 0, "bad payload"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := newTestBroker(t, dlq)
			s := newSession(t, b, SessionOptions{})
			_, dl := consume(t, s, "DLQ", ConsumerOptions{})
			c, col := consume(t, s, "work", ConsumerOptions{})
			fillQueue(t, s, "work", 2)
			ds := col.take(t, 2)
			if err := tt.settle(c, ds[0].Tag); err != nil {
				t.Fatal(err)
			}
			if err := tt.settle(c, ds[0].Tag); !errors.Is(err, ErrUnknownDelivery) {
				t.Errorf("settling twice: err = %v, want ErrUnknownDelivery", err)
			}
			if !tt.wantRequeued {
				col.none(t)
				d := dl.next(t, waitTimeout)
				checkDeadLetter(t, d.Message, "work", "work", tt.wantDLQReason)
				if string(d.Message.Body) != "0" {
					t.Errorf("dead-lettered %q", d.Message.Body)
				}
				return
			}
			d := col.next(t, waitTimeout)
			if string(d.Message.Body) != "0" || d.DeliveryCount != tt.wantCount {
				t.Errorf("redelivered %q count %d, want \"0\" count %d", d.Message.Body, d.DeliveryCount, tt.wantCount)
			}
			if d.Redelivered() != (tt.wantCount > 1) {
				t.Errorf("Redelivered() = %v", d.Redelivered())
			}
			dl.none(t)
		})
	}
}

// checkDeadLetter checks the properties recording where a moved message came from.
func checkDeadLetter(t *testing.T, m *Message, origAddr, origQueue, reason string) {
	t.Helper()
	if got := m.Property(PropOrigAddress).Text(); got != origAddr {
		t.Errorf("%s = %q, want %q", PropOrigAddress, got, origAddr)
	}
	if got := m.Property(PropOrigQueue).Text(); got != origQueue {
		t.Errorf("%s = %q, want %q", PropOrigQueue, got, origQueue)
	}
	if got := m.Property(PropDLQReason).Text(); !strings.Contains(got, reason) {
		t.Errorf("%s = %q, want it to contain %q", PropDLQReason, got, reason)
	}
	if m.Property(PropOrigMessageID).IsNull() {
		t.Errorf("%s missing", PropOrigMessageID)
	}
}

// TestModifiedUndeliverableHere: undeliverable-here keeps the message from
// the consumer that modified it; only delivery-failed counts the attempt.
func TestModifiedUndeliverableHere(t *testing.T) {
	for _, failed := range []bool{false, true} {
		t.Run(fmt.Sprintf("failed=%v", failed), func(t *testing.T) {
			b := newTestBroker(t, Config{})
			s := newSession(t, b, SessionOptions{})
			c1, col1 := consume(t, s, "q", ConsumerOptions{})
			fillQueue(t, s, "q", 1)
			d := col1.next(t, waitTimeout)
			if err := c1.Modify(d.Tag, failed, true); err != nil {
				t.Fatal(err)
			}
			col1.none(t) // never back to this consumer
			_, col2 := consume(t, s, "q", ConsumerOptions{})
			d2 := col2.next(t, waitTimeout)
			want := uint32(1) + uint32(boolInt(failed))
			if string(d2.Message.Body) != "0" || d2.DeliveryCount != want {
				t.Errorf("other consumer got %q count %d, want count %d", d2.Message.Body, d2.DeliveryCount, want)
			}
		})
	}
}

// TestModifiedAnnotations: annotations given with modified are merged into
// the copy this queue redelivers, and the message other queues share keeps
// its own.
func TestModifiedAnnotations(t *testing.T) {
	b := newTestBroker(t, Config{})
	s := newSession(t, b, SessionOptions{})
	ca, cola := subscribe(t, s, SubscribeOptions{Address: "t"}, ConsumerOptions{})
	cb, colb := subscribe(t, s, SubscribeOptions{Address: "t"}, ConsumerOptions{})
	m := msg("t", "x")
	m.Annotations = []prop.Property{{Name: "x-opt-keep", Value: prop.StringValue("1")}, {Name: "x-opt-n", Value: prop.Int32Value(1)}}
	send(t, s, m)
	d := cola.next(t, waitTimeout)
	db := colb.next(t, waitTimeout)
	if err := ca.Settle(d.Tag, Outcome{Kind: Modified, Annotations: []prop.Property{
		{Name: "x-opt-n", Value: prop.Int32Value(2)}, {Name: "x-opt-new", Value: prop.StringValue("y")}}}); err != nil {
		t.Fatal(err)
	}
	again := cola.next(t, waitTimeout)
	got := map[string]string{}
	for _, a := range again.Message.Annotations {
		got[a.Name] = a.Value.Text()
	}
	if got["x-opt-keep"] != "1" || got["x-opt-n"] != "2" || got["x-opt-new"] != "y" || len(got) != 3 {
		t.Errorf("redelivered annotations = %v", got)
	}
	if again.DeliveryCount != 1 || again.Message.ID != d.Message.ID {
		t.Errorf("redelivery: count %d id %d, want count 1 id %d", again.DeliveryCount, again.Message.ID, d.Message.ID)
	}
	if len(db.Message.Annotations) != 2 || db.Message.Annotations[1].Value.Text() != "1" {
		t.Errorf("the other subscription's message changed: %v", db.Message.Annotations)
	}
	if err := ca.Ack(again.Tag); err != nil {
		t.Fatal(err)
	}
	if a, _ := b.Address("t"); a.Size == 0 {
		t.Error("address size released while the other subscription holds the message")
	}
	if err := cb.Ack(db.Tag); err != nil {
		t.Fatal(err)
	}
	if a, _ := b.Address("t"); a.Size != 0 {
		t.Errorf("address size %d after both acks", a.Size)
	}
}

func TestReleaseGoesToHeadOfQueue(t *testing.T) {
	b := newTestBroker(t, Config{})
	s := newSession(t, b, SessionOptions{})
	c, col := consume(t, s, "q", ConsumerOptions{Credit: 2})
	fillQueue(t, s, "q", 4)
	ds := col.take(t, 2)
	// Release in reverse; both return ahead of "2" and "3", in original order.
	if err := c.Release(ds[1].Tag); err != nil {
		t.Fatal(err)
	}
	if err := c.Release(ds[0].Tag); err != nil {
		t.Fatal(err)
	}
	c.AddCredit(4)
	if got := bodies(col.take(t, 4)); !slices.Equal(got, []string{"0", "1", "2", "3"}) {
		t.Errorf("after release got %v", got)
	}
}

func TestRedeliveryDelay(t *testing.T) {
	clock := newFakeClock()
	b := newTestBroker(t, Config{Now: clock.Now, AddressSettings: settings("#", &AddressSettings{
		RedeliveryDelay: ptr(int64(10)), RedeliveryDelayMultiplier: ptr(2.0), MaxRedeliveryDelay: ptr(int64(30)),
		MaxDeliveryAttempts: ptr(-1),
	})})
	s := newSession(t, b, SessionOptions{})
	c, col := consume(t, s, "q", ConsumerOptions{})
	fillQueue(t, s, "q", 1)
	q := c.Queue()
	// Delays: 10 ms, then doubled each time, capped at 30 ms.
	for i, wantDelay := range []int64{10, 20, 30, 30} {
		d := col.next(t, waitTimeout)
		if d.DeliveryCount != uint32(i+1) {
			t.Fatalf("delivery %d has count %d", i+1, d.DeliveryCount)
		}
		sent := clock.ms()
		if err := c.Nack(d.Tag); err != nil {
			t.Fatal(err)
		}
		col.none(t)
		q.mu.Lock()
		var at int64
		if q.sched.Len() == 1 {
			at = q.sched[0].scheduledAt
		}
		q.mu.Unlock()
		if at-sent != wantDelay {
			t.Errorf("after failure %d: redelivery in %d ms, want %d", i+1, at-sent, wantDelay)
		}
		if st := q.Stats(); st.Scheduled != 1 || st.Ready != 0 {
			t.Errorf("stats after nack: %+v", st)
		}
		clock.Advance(time.Duration(wantDelay) * time.Millisecond)
	}
}

func TestRedeliveryDelayFor(t *testing.T) {
	s := Settings{RedeliveryDelay: 100 * time.Millisecond, RedeliveryDelayMultiplier: 3, MaxRedeliveryDelay: time.Second}
	tests := []struct {
		count uint32
		want  time.Duration
	}{{0, 100 * time.Millisecond}, {1, 100 * time.Millisecond}, {2, 300 * time.Millisecond}, {3, 900 * time.Millisecond}, {4, time.Second}, {50, time.Second}}
	for _, tt := range tests {
		if got := s.RedeliveryDelayFor(tt.count); got != tt.want {
			t.Errorf("RedeliveryDelayFor(%d) = %v, want %v", tt.count, got, tt.want)
		}
	}
	if got := (&Settings{}).RedeliveryDelayFor(5); got != 0 {
		t.Errorf("no delay configured: %v", got)
	}
}

func TestMaxDeliveryAttempts(t *testing.T) {
	b := newTestBroker(t, Config{AddressSettings: settings("work", &AddressSettings{
		MaxDeliveryAttempts: ptr(3), DeadLetterAddress: ptr("DLQ.work"),
	})})
	s := newSession(t, b, SessionOptions{})
	_, dl := consume(t, s, "DLQ.work", ConsumerOptions{})
	c, col := consume(t, s, "work", ConsumerOptions{})
	m := msg("work", "poison", "app", "v")
	m.RoutingType = Anycast
	send(t, s, m)
	for i := 1; i <= 3; i++ {
		d := col.next(t, waitTimeout)
		if d.DeliveryCount != uint32(i) {
			t.Fatalf("attempt %d has count %d", i, d.DeliveryCount)
		}
		if err := c.Nack(d.Tag); err != nil {
			t.Fatal(err)
		}
	}
	col.none(t)
	d := dl.next(t, waitTimeout)
	checkDeadLetter(t, d.Message, "work", "work", "max-delivery-attempts")
	if string(d.Message.Body) != "poison" || d.Message.Property("app").Text() != "v" {
		t.Errorf("dead letter lost content: %q %v", d.Message.Body, d.Message.Properties)
	}
	if d.Message.Address != "DLQ.work" {
		t.Errorf("dead letter address = %q", d.Message.Address)
	}
	if st := c.Queue().Stats(); st.DeadLettered != 1 || st.Messages != 0 {
		t.Errorf("queue stats = %+v", st)
	}
	if st := b.Stats(); st.DeadLettered != 1 {
		t.Errorf("broker DeadLettered = %d", st.DeadLettered)
	}
}

func TestDeadLetterWithoutAddressDrops(t *testing.T) {
	b := newTestBroker(t, Config{AddressSettings: settings("#", &AddressSettings{DeadLetterAddress: ptr("")})})
	s := newSession(t, b, SessionOptions{})
	c, col := consume(t, s, "q", ConsumerOptions{})
	fillQueue(t, s, "q", 1)
	if err := c.Reject(col.next(t, waitTimeout).Tag, ""); err != nil {
		t.Fatal(err)
	}
	if st := c.Queue().Stats(); st.DeadLettered != 1 || st.Messages != 0 {
		t.Errorf("stats = %+v", st)
	}
	if _, ok := b.Queue("DLQ"); ok {
		t.Error("a DLQ was created although no dead-letter address is set")
	}
}

func TestPriority(t *testing.T) {
	b := newTestBroker(t, Config{})
	s := newSession(t, b, SessionOptions{})
	prios := []uint8{4, 9, 0, 4, 9, 7, 0, 4}
	for i, p := range prios {
		m := msg("q", fmt.Sprintf("p%d-%d", p, i))
		m.Priority = p
		m.RoutingType = Anycast
		send(t, s, m)
	}
	_, col := consume(t, s, "q", ConsumerOptions{})
	want := []string{"p9-1", "p9-4", "p7-5", "p4-0", "p4-3", "p4-7", "p0-2", "p0-6"}
	if got := bodies(col.take(t, len(prios))); !slices.Equal(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
}

func TestMessageGroups(t *testing.T) {
	b := newTestBroker(t, Config{})
	s := newSession(t, b, SessionOptions{})
	c1, col1 := consume(t, s, "g", ConsumerOptions{})
	c2, col2 := consume(t, s, "g", ConsumerOptions{})
	groups := []string{"a", "b", "c", "d"}
	sendRound := func(round int) {
		for _, g := range groups {
			m := msg("g", fmt.Sprintf("%s%d", g, round))
			m.GroupID = g
			m.RoutingType = Anycast
			send(t, s, m)
		}
	}
	for r := range 3 {
		sendRound(r)
	}
	owner := map[string]*Consumer{}
	drain := func(col *collector) {
		for _, d := range col.buffered() {
			g := d.Message.GroupID
			if o, ok := owner[g]; ok && o != d.Consumer {
				t.Errorf("group %s went to two consumers", g)
			}
			owner[g] = d.Consumer
			if err := d.Consumer.Ack(d.Tag); err != nil {
				t.Fatal(err)
			}
		}
	}
	drain(col1)
	drain(col2)
	if len(owner) != 4 {
		t.Fatalf("groups delivered: %d", len(owner))
	}
	var c1Groups []string
	for g, o := range owner {
		if o == c1 {
			c1Groups = append(c1Groups, g)
		}
	}
	if len(c1Groups) == 0 || len(c1Groups) == 4 {
		t.Errorf("groups not spread over consumers: c1 has %v", c1Groups)
	}
	// When c1 goes, its groups move to c2 and stay there.
	c1.Close()
	sendRound(3)
	col1.none(t)
	ds := col2.take(t, 4)
	for _, d := range ds {
		if d.Consumer != c2 {
			t.Errorf("delivery to %v", d.Consumer)
		}
	}
	ackAll(t, ds)
}

func TestMessageGroupWaitsForItsOwner(t *testing.T) {
	// While the owner has no credit, other consumers do not take its group, but
	// they do take other messages behind it.
	b := newTestBroker(t, Config{})
	s := newSession(t, b, SessionOptions{})
	c1, col1 := consume(t, s, "g", ConsumerOptions{Credit: 1})
	m := msg("g", "a0")
	m.GroupID, m.RoutingType = "a", Anycast
	send(t, s, m)
	col1.next(t, waitTimeout)
	_, col2 := consume(t, s, "g", ConsumerOptions{})
	for i, g := range []string{"a", "", "a"} {
		m := msg("g", fmt.Sprintf("%s-%d", g, i))
		m.GroupID, m.RoutingType = g, Anycast
		send(t, s, m)
	}
	if got := bodies(col2.take(t, 1)); got[0] != "-1" {
		t.Errorf("other consumer got %v", got)
	}
	col2.none(t)
	c1.AddCredit(2)
	if got := bodies(col1.take(t, 2)); !slices.Equal(got, []string{"a-0", "a-2"}) {
		t.Errorf("group owner got %v", got)
	}
}

func TestBrowse(t *testing.T) {
	b := newTestBroker(t, Config{})
	s := newSession(t, b, SessionOptions{})
	for i, p := range []uint8{4, 9, 4} {
		m := msg("q", fmt.Sprint(i), "n", i)
		m.Priority = p
		m.RoutingType = Anycast
		send(t, s, m)
	}
	tests := []struct {
		sel   string
		limit int
		want  []string
	}{
		{"", 10, []string{"1", "0", "2"}},
		{"n >= 1", 10, []string{"1", "2"}},
		{"", 2, []string{"1", "0"}},
		{"n > 5", 10, nil},
	}
	for _, tt := range tests {
		var got []string
		err := s.Browse("q", tt.sel, func(m *Message) bool {
			got = append(got, string(m.Body))
			return len(got) < tt.limit
		})
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(got, tt.want) {
			t.Errorf("Browse(%q, limit %d) = %v, want %v", tt.sel, tt.limit, got, tt.want)
		}
	}
	if st := queueStats(t, b, "q"); st.Ready != 3 || st.Acked != 0 {
		t.Errorf("browsing consumed: %+v", st)
	}
	_, col := consume(t, s, "q", ConsumerOptions{})
	if got := bodies(col.take(t, 3)); !slices.Equal(got, []string{"1", "0", "2"}) {
		t.Errorf("after browse a consumer got %v", got)
	}
}

func TestConsumerCloseRedeliversUnacked(t *testing.T) {
	b := newTestBroker(t, Config{})
	s := newSession(t, b, SessionOptions{})
	c1, col1 := consume(t, s, "q", ConsumerOptions{Credit: 3})
	fillQueue(t, s, "q", 5)
	ds := col1.take(t, 3)
	if err := c1.Ack(ds[1].Tag); err != nil {
		t.Fatal(err)
	}
	c1.Close()
	if err := c1.Ack(ds[0].Tag); !errors.Is(err, ErrUnknownDelivery) {
		t.Errorf("ack after close: %v, want ErrUnknownDelivery", err)
	}
	_, col2 := consume(t, s, "q", ConsumerOptions{})
	got := col2.take(t, 4)
	wantBodies := []string{"0", "2", "3", "4"}
	wantCounts := []uint32{2, 2, 1, 1}
	for i, d := range got {
		if string(d.Message.Body) != wantBodies[i] || d.DeliveryCount != wantCounts[i] {
			t.Errorf("delivery %d = %q count %d, want %q count %d", i, d.Message.Body, d.DeliveryCount, wantBodies[i], wantCounts[i])
		}
	}
}

func TestSessionCloseClosesConsumers(t *testing.T) {
	b := newTestBroker(t, Config{})
	s1 := b.NewSession(SessionOptions{})
	s2 := newSession(t, b, SessionOptions{})
	_, col1 := consume(t, s1, "q", ConsumerOptions{})
	fillQueue(t, s2, "q", 1)
	col1.next(t, waitTimeout)
	s1.Close()
	if _, err := s1.Consume("q", ConsumerOptions{Handler: func(Delivery) {}}); !errors.Is(err, ErrClosed) {
		t.Errorf("Consume on closed session: %v, want ErrClosed", err)
	}
	_, col2 := consume(t, s2, "q", ConsumerOptions{})
	if d := col2.next(t, waitTimeout); d.DeliveryCount != 2 {
		t.Errorf("redelivery count %d, want 2", d.DeliveryCount)
	}
}

func TestConsumerNeedsHandler(t *testing.T) {
	b := newTestBroker(t, Config{})
	s := newSession(t, b, SessionOptions{})
	if _, err := s.Consume("q", ConsumerOptions{}); err == nil {
		t.Error("Consume without a handler succeeded")
	}
}

func TestAutoCreatedQueueDeletedWhenUnused(t *testing.T) {
	b := newTestBroker(t, Config{})
	s := newSession(t, b, SessionOptions{})
	c, _ := consume(t, s, "ephemeral", ConsumerOptions{})
	c.Close()
	if _, ok := b.Queue("ephemeral"); ok {
		t.Error("empty auto-created queue survived its last consumer")
	}
	c, col := consume(t, s, "kept", ConsumerOptions{Credit: 1})
	fillQueue(t, s, "kept", 2)
	col.next(t, waitTimeout)
	c.Close()
	if _, ok := b.Queue("kept"); !ok {
		t.Error("auto-created queue with messages was deleted")
	}
}

// TestMessageGroupsForgotten: a group's owner is forgotten once the queue
// holds none of its messages, so the group table does not grow with every
// group id ever sent; while messages of a group remain, it stays with its owner.
func TestMessageGroupsForgotten(t *testing.T) {
	b := newTestBroker(t, Config{})
	s := newSession(t, b, SessionOptions{})
	c, col := consume(t, s, "g", ConsumerOptions{})
	for i := range 100 {
		m := msg("g", fmt.Sprint(i))
		m.GroupID, m.RoutingType = fmt.Sprintf("g%d", i%50), Anycast
		send(t, s, m)
	}
	ds := col.take(t, 100)
	q := c.Queue()
	groups := func() (int, int) {
		q.mu.Lock()
		defer q.mu.Unlock()
		return len(q.groups), len(q.groupRefs)
	}
	if g, r := groups(); g != 50 || r != 50 {
		t.Fatalf("with 100 messages in flight: %d owners, %d counted groups", g, r)
	}
	ackAll(t, ds[:50])
	if g, _ := groups(); g != 50 {
		t.Fatalf("owners forgotten while their groups had messages in flight: %d left", g)
	}
	ackAll(t, ds[50:])
	if g, r := groups(); g != 0 || r != 0 || c.groups != 0 {
		t.Fatalf("after every ack: %d owners, %d counted groups, consumer owns %d", g, r, c.groups)
	}
}
