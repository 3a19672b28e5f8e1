package core

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/junctionmq/junction/storage/memory"
)

func TestAnycastAddressCompetingConsumers(t *testing.T) {
	b := newTestBroker(t, Config{})
	s := newSession(t, b, SessionOptions{})
	if err := b.CreateAddress("orders", Anycast); err != nil {
		t.Fatal(err)
	}
	c1, col1 := consume(t, s, "orders", ConsumerOptions{})
	c2, col2 := consume(t, s, "orders", ConsumerOptions{})
	if c1.Queue() != c2.Queue() {
		t.Fatal("two consumers of one anycast address got different queues")
	}
	const n = 10
	for i := range n {
		send(t, s, msg("orders", fmt.Sprint(i)))
	}
	got := map[string]int{}
	for _, col := range []*collector{col1, col2} {
		for _, d := range col.buffered() {
			got[string(d.Message.Body)]++
		}
	}
	if len(got) != n {
		t.Fatalf("delivered %d distinct messages, want %d: %v", len(got), n, got)
	}
	for k, v := range got {
		if v != 1 {
			t.Errorf("message %s delivered %d times", k, v)
		}
	}
	info, ok := b.Address("orders")
	if !ok || !info.Anycast || info.Multicast {
		t.Errorf("address info = %+v, %v; want anycast only", info, ok)
	}
}

func TestMulticastAddressEverySubscriptionGetsACopy(t *testing.T) {
	b := newTestBroker(t, Config{})
	s := newSession(t, b, SessionOptions{})
	if err := b.CreateAddress("prices", Multicast); err != nil {
		t.Fatal(err)
	}
	_, col1 := subscribe(t, s, SubscribeOptions{Address: "prices"}, ConsumerOptions{AutoAck: true})
	_, col2 := subscribe(t, s, SubscribeOptions{Address: "prices"}, ConsumerOptions{AutoAck: true})
	for i := range 3 {
		send(t, s, msg("prices", fmt.Sprint(i)))
	}
	for i, col := range []*collector{col1, col2} {
		if got := bodies(col.take(t, 3)); !slices.Equal(got, []string{"0", "1", "2"}) {
			t.Errorf("subscription %d got %v", i, got)
		}
		col.none(t)
	}
}

func TestRoutingTypeOfMessage(t *testing.T) {
	// One address with both routing types: the message's routing type picks.
	tests := []struct {
		name       string
		rt         RoutingType
		wantQueue  bool
		wantSubscr bool
	}{
		{"anycast", Anycast, true, false},
		{"multicast", Multicast, false, true},
		{"any", RoutingAny, true, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := newTestBroker(t, Config{})
			s := newSession(t, b, SessionOptions{})
			if err := b.CreateAddress("both", Anycast); err != nil {
				t.Fatal(err)
			}
			if err := b.CreateAddress("both", Multicast); err != nil {
				t.Fatal(err)
			}
			_, qcol := consume(t, s, "both", ConsumerOptions{AutoAck: true})
			_, scol := subscribe(t, s, SubscribeOptions{Address: "both"}, ConsumerOptions{AutoAck: true})
			m := msg("both", "x")
			m.RoutingType = tt.rt
			send(t, s, m)
			if got := len(qcol.ch) == 1; got != tt.wantQueue {
				t.Errorf("anycast queue got message: %v, want %v", got, tt.wantQueue)
			}
			if got := len(scol.ch) == 1; got != tt.wantSubscr {
				t.Errorf("subscription got message: %v, want %v", got, tt.wantSubscr)
			}
		})
	}
}

func TestNonDurableSubscriptionDiesWithConsumer(t *testing.T) {
	b := newTestBroker(t, Config{})
	s := newSession(t, b, SessionOptions{})
	c, _ := subscribe(t, s, SubscribeOptions{Address: "news"}, ConsumerOptions{})
	name := c.Queue().Name()
	if info := c.Queue().Info(); info.Durable || info.RoutingType != Multicast {
		t.Fatalf("subscription queue info = %+v", info)
	}
	c.Close()
	if _, ok := b.Queue(name); ok {
		t.Fatalf("non-durable subscription queue %q survived its consumer", name)
	}
}

func TestDurableSubscription(t *testing.T) {
	b := newTestBroker(t, Config{})
	s := newSession(t, b, SessionOptions{ClientID: "client1"})
	sub := SubscribeOptions{Address: "events", Name: "audit", Durable: true}
	c, _ := subscribe(t, s, sub, ConsumerOptions{})
	if got, want := c.Queue().Name(), "client1.audit"; got != want {
		t.Fatalf("durable subscription queue = %q, want %q", got, want)
	}
	// A second active consumer on a non-shared durable subscription is refused.
	if _, err := s.Subscribe(sub, ConsumerOptions{Handler: func(Delivery) {}, Credit: 1}); !errors.Is(err, ErrSubscriptionInUse) {
		t.Fatalf("second consumer: err = %v, want ErrSubscriptionInUse", err)
	}
	c.Close()
	// Messages sent while nobody listens are kept for the subscription.
	p := newSession(t, b, SessionOptions{})
	send(t, p, msg("events", "while-away"))
	_, col := subscribe(t, s, sub, ConsumerOptions{})
	if d := col.next(t, waitTimeout); string(d.Message.Body) != "while-away" {
		t.Fatalf("got %q", d.Message.Body)
	}
	// Without a client id a non-shared durable subscription is refused.
	anon := newSession(t, b, SessionOptions{})
	if _, err := anon.Subscribe(sub, ConsumerOptions{Handler: func(Delivery) {}}); !errors.Is(err, ErrNoClientID) {
		t.Fatalf("no client id: err = %v, want ErrNoClientID", err)
	}
}

func TestUnsubscribe(t *testing.T) {
	b := newTestBroker(t, Config{})
	s := newSession(t, b, SessionOptions{ClientID: "c"})
	c, _ := subscribe(t, s, SubscribeOptions{Address: "t", Name: "n", Durable: true}, ConsumerOptions{})
	c.Close()
	if err := s.Unsubscribe("n"); err != nil {
		t.Fatal(err)
	}
	if _, ok := b.Queue("c.n"); ok {
		t.Fatal("queue survived Unsubscribe")
	}
	if err := s.Unsubscribe("n"); !errors.Is(err, ErrNoSuchQueue) {
		t.Fatalf("second Unsubscribe: %v, want ErrNoSuchQueue", err)
	}
}

func TestSharedSubscription(t *testing.T) {
	tests := []struct {
		name    string
		durable bool
	}{{"non-durable", false}, {"durable", true}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := newTestBroker(t, Config{})
			s1 := newSession(t, b, SessionOptions{})
			s2 := newSession(t, b, SessionOptions{})
			sub := SubscribeOptions{Address: "jobs", Name: "workers", Shared: true, Durable: tt.durable}
			c1, col1 := subscribe(t, s1, sub, ConsumerOptions{})
			c2, col2 := subscribe(t, s2, sub, ConsumerOptions{})
			if c1.Queue() != c2.Queue() {
				t.Fatal("shared subscribers got different queues")
			}
			// A separate subscription still gets its own copy of everything.
			_, other := subscribe(t, s1, SubscribeOptions{Address: "jobs"}, ConsumerOptions{})
			const n = 20
			for i := range n {
				send(t, s1, msg("jobs", fmt.Sprint(i)))
			}
			if len(col1.ch) == 0 || len(col2.ch) == 0 {
				t.Errorf("shared subscription did not spread: %d and %d", len(col1.ch), len(col2.ch))
			}
			if len(col1.ch)+len(col2.ch) != n {
				t.Errorf("shared subscribers got %d messages in all, want %d", len(col1.ch)+len(col2.ch), n)
			}
			if len(other.ch) != n {
				t.Errorf("other subscription got %d, want %d", len(other.ch), n)
			}
			name := c1.Queue().Name()
			c1.Close()
			c2.Close()
			_, exists := b.Queue(name)
			if exists != tt.durable {
				t.Errorf("after the last consumer left, queue exists = %v, want %v", exists, tt.durable)
			}
		})
	}
}

func TestSubscriptionSelectorFiltersWhatIsStored(t *testing.T) {
	b := newTestBroker(t, Config{})
	s := newSession(t, b, SessionOptions{})
	c, col := subscribe(t, s, SubscribeOptions{Address: "cars", Selector: "color = 'red'"}, ConsumerOptions{AutoAck: true})
	send(t, s, msg("cars", "r", "color", "red"))
	send(t, s, msg("cars", "b", "color", "blue"))
	if got := bodies(col.take(t, 1)); got[0] != "r" {
		t.Fatalf("got %v", got)
	}
	col.none(t)
	if st := c.Queue().Stats(); st.Enqueued != 1 {
		t.Errorf("subscription enqueued %d, want 1 (the filter keeps others out)", st.Enqueued)
	}
	if _, err := s.Subscribe(SubscribeOptions{Address: "cars", Selector: "color = "}, ConsumerOptions{Handler: func(Delivery) {}}); !errors.Is(err, ErrInvalidSelector) {
		t.Errorf("invalid subscription selector: %v, want ErrInvalidSelector", err)
	}
}

func TestNoLocalSubscription(t *testing.T) {
	b := newTestBroker(t, Config{})
	s := newSession(t, b, SessionOptions{})
	other := newSession(t, b, SessionOptions{})
	_, col := subscribe(t, s, SubscribeOptions{Address: "chat", NoLocal: true}, ConsumerOptions{AutoAck: true})
	send(t, s, msg("chat", "mine"))
	send(t, other, msg("chat", "theirs"))
	if got := bodies(col.take(t, 1)); got[0] != "theirs" {
		t.Fatalf("got %v", got)
	}
	col.none(t)
}

func TestWildcardSubscriptions(t *testing.T) {
	addrs := []string{"news", "news.sport", "news.sport.football", "news.weather", "other.sport"}
	tests := []struct {
		pattern string
		want    []string
	}{
		{"news.*", []string{"news.sport", "news.weather"}},
		{"news.#", []string{"news", "news.sport", "news.sport.football", "news.weather"}},
		{"news.>", []string{"news", "news.sport", "news.sport.football", "news.weather"}},
		{"*.sport", []string{"news.sport", "other.sport"}},
		{"#.football", []string{"news.sport.football"}},
		{"news.*.football", []string{"news.sport.football"}},
		{"#", addrs},
	}
	for _, tt := range tests {
		t.Run(tt.pattern, func(t *testing.T) {
			b := newTestBroker(t, Config{})
			s := newSession(t, b, SessionOptions{})
			_, col := subscribe(t, s, SubscribeOptions{Address: tt.pattern}, ConsumerOptions{AutoAck: true})
			for _, a := range addrs {
				m := msg(a, a)
				m.RoutingType = Multicast
				send(t, s, m)
			}
			got := bodies(col.buffered())
			sort.Strings(got)
			if !slices.Equal(got, tt.want) {
				t.Errorf("pattern %q received %v, want %v", tt.pattern, got, tt.want)
			}
		})
	}
}

func TestWildcardSubscriptionSeesAddressCreatedLater(t *testing.T) {
	b := newTestBroker(t, Config{})
	s := newSession(t, b, SessionOptions{})
	_, col := subscribe(t, s, SubscribeOptions{Address: "metrics.#"}, ConsumerOptions{AutoAck: true})
	// Route once so the route cache for the address exists, then add a
	// narrower subscription: the cache must notice.
	send(t, s, msg("metrics.cpu", "1"))
	_, col2 := subscribe(t, s, SubscribeOptions{Address: "metrics.*"}, ConsumerOptions{AutoAck: true})
	send(t, s, msg("metrics.cpu", "2"))
	if got := bodies(col.take(t, 2)); !slices.Equal(got, []string{"1", "2"}) {
		t.Errorf("metrics.# got %v", got)
	}
	if got := bodies(col2.take(t, 1)); got[0] != "2" {
		t.Errorf("metrics.* got %v", got)
	}
}

func TestAutoCreateOff(t *testing.T) {
	cfg := Config{AddressSettings: settings("#", &AddressSettings{
		AutoCreateAddresses: ptr(false), AutoCreateQueues: ptr(false),
	})}
	b := newTestBroker(t, cfg)
	s := newSession(t, b, SessionOptions{})
	if err := b.CreateAddress("exists", Anycast); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		do   func() error
		want error
	}{
		{"send to unknown address", func() error { return sendErr(s, msg("nowhere", "x")) }, ErrNoSuchAddress},
		{"send anycast without queue", func() error {
			m := msg("exists", "x")
			m.RoutingType = Anycast
			return sendErr(s, m)
		}, ErrNoSuchQueue},
		{"consume unknown queue", func() error {
			_, err := s.Consume("nowhere", ConsumerOptions{Handler: func(Delivery) {}})
			return err
		}, ErrNoSuchQueue},
		{"consume address without queue", func() error {
			_, err := s.Consume("exists", ConsumerOptions{Handler: func(Delivery) {}})
			return err
		}, ErrNoSuchQueue},
		{"subscribe unknown address", func() error {
			_, err := s.Subscribe(SubscribeOptions{Address: "nowhere"}, ConsumerOptions{Handler: func(Delivery) {}})
			return err
		}, ErrNoSuchAddress},
		{"browse unknown queue", func() error { return s.Browse("nowhere", "", func(*Message) bool { return true }) }, ErrNoSuchQueue},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.do(); !errors.Is(err, tt.want) {
				t.Errorf("err = %v, want %v", err, tt.want)
			}
		})
	}
	if st := b.Stats(); st.Queues != 0 {
		t.Errorf("%d queues were created with auto-create off", st.Queues)
	}
}

func TestSendValidation(t *testing.T) {
	b := newTestBroker(t, Config{MaxMessageSize: 1000})
	s := newSession(t, b, SessionOptions{})
	tests := []struct {
		name string
		m    *Message
		want error
	}{
		{"priority 10", func() *Message { m := msg("v", "x"); m.Priority = 10; return m }(), ErrInvalidPriority},
		{"priority 255", func() *Message { m := msg("v", "x"); m.Priority = 255; return m }(), ErrInvalidPriority},
		{"oversized body", msg("v", strings.Repeat("x", 1000)), ErrMessageTooLarge},
		{"oversized properties", msg("v", "", "big", strings.Repeat("p", 1000)), ErrMessageTooLarge},
		{"empty address", msg("", "x"), ErrInvalidName},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := sendErr(s, tt.m); !errors.Is(err, tt.want) {
				t.Errorf("err = %v, want %v", err, tt.want)
			}
			tx := s.Begin()
			if err := tx.Send(tt.m); !errors.Is(err, tt.want) {
				t.Errorf("Tx.Send: err = %v, want %v", err, tt.want)
			}
			tx.Rollback()
		})
	}
	// Priority 0 and 9 are the valid extremes.
	for _, p := range []uint8{0, 9} {
		m := msg("v", "x")
		m.Priority = p
		if err := sendErr(s, m); err != nil {
			t.Errorf("priority %d: %v", p, err)
		}
	}
}

func TestInvalidSelector(t *testing.T) {
	b := newTestBroker(t, Config{})
	s := newSession(t, b, SessionOptions{})
	for _, sel := range []string{"color =", "a LIKE 5", "((x > 1)", "1 + 'a' = 2"} {
		_, err := s.Consume("q", ConsumerOptions{Handler: func(Delivery) {}, Selector: sel})
		if !errors.Is(err, ErrInvalidSelector) {
			t.Errorf("Consume selector %q: err = %v, want ErrInvalidSelector", sel, err)
		}
	}
	send(t, s, func() *Message { m := msg("q2", "x"); m.RoutingType = Anycast; return m }())
	if err := s.Browse("q2", "x =", func(*Message) bool { return true }); !errors.Is(err, ErrInvalidSelector) {
		t.Errorf("Browse: err = %v, want ErrInvalidSelector", err)
	}
}

func TestDuplicateDetection(t *testing.T) {
	b := newTestBroker(t, Config{AddressSettings: settings("dup.#", &AddressSettings{DuplicateIDCacheSize: ptr(2)})})
	s := newSession(t, b, SessionOptions{})
	_, col := consume(t, s, "dup.q", ConsumerOptions{AutoAck: true})
	// The window holds two ids: "a" falls out when "c" arrives.
	ids := []string{"a", "a", "b", "c", "a", "a", ""}
	want := []string{"0", "2", "3", "4", "6"}
	for i, id := range ids {
		m := msg("dup.q", fmt.Sprint(i))
		if id != "" {
			m.SetProperty(PropDuplicateID, stringValue(id))
		}
		send(t, s, m)
	}
	got := bodies(col.buffered())
	if !slices.Equal(got, want) {
		t.Errorf("delivered %v, want %v", got, want)
	}
	if st := b.Stats(); st.Duplicates != 2 {
		t.Errorf("Stats.Duplicates = %d, want 2", st.Duplicates)
	}
}

func TestDuplicateIDNotRecordedForRefusedSend(t *testing.T) {
	// A send refused because the address is full must not burn its duplicate
	// id: the client's retry would otherwise be dropped silently.
	b := newTestBroker(t, Config{AddressSettings: settings("full", &AddressSettings{
		MaxSizeBytes: ptr(ByteSize(600)), AddressFullPolicy: ptr("FAIL"),
	})})
	s := newSession(t, b, SessionOptions{})
	c, col := consume(t, s, "full", ConsumerOptions{Credit: -1})
	send(t, s, msg("full", strings.Repeat("x", 300)))
	m := msg("full", "retry-me")
	m.SetProperty(PropDuplicateID, stringValue("id-1"))
	if err := sendErr(s, m); !errors.Is(err, ErrAddressFull) {
		t.Fatalf("send to full address: %v, want ErrAddressFull", err)
	}
	c.SetCredit(1)
	ackAll(t, col.take(t, 1))
	retry := msg("full", "retry-me")
	retry.SetProperty(PropDuplicateID, stringValue("id-1"))
	send(t, s, retry)
	c.SetCredit(1)
	if d := col.next(t, waitTimeout); string(d.Message.Body) != "retry-me" {
		t.Fatalf("got %q", d.Message.Body)
	}
}

func TestAddressSettingsMatching(t *testing.T) {
	cfg := settings(
		"#", &AddressSettings{MaxDeliveryAttempts: ptr(5), DeadLetterAddress: ptr("DLQ.all")},
		"orders.#", &AddressSettings{MaxDeliveryAttempts: ptr(2), AddressFullPolicy: ptr("FAIL")},
		"orders.eu.*", &AddressSettings{RedeliveryDelay: ptr(int64(100))},
		"orders.eu.>", &AddressSettings{ExpiryAddress: ptr("EXP.eu")},
		"orders.eu.new", &AddressSettings{LastValueKey: ptr("k"), MaxSizeBytes: ptr(ByteSize(1 << 20))},
	)
	repo, err := NewSettingsRepository(cfg)
	if err != nil {
		t.Fatal(err)
	}
	def := DefaultSettings()
	tests := []struct {
		addr  string
		check func(s *Settings) string
	}{
		{"other", func(s *Settings) string {
			if s.MaxDeliveryAttempts != 5 || s.DeadLetterAddress != "DLQ.all" || s.FullPolicy != def.FullPolicy {
				return fmt.Sprintf("%+v", *s)
			}
			return ""
		}},
		{"orders", func(s *Settings) string { // `orders.#` matches `orders` (zero words)
			if s.MaxDeliveryAttempts != 2 || s.FullPolicy != FullFail {
				return fmt.Sprintf("%+v", *s)
			}
			return ""
		}},
		{"orders.us.new", func(s *Settings) string {
			if s.MaxDeliveryAttempts != 2 || s.DeadLetterAddress != "DLQ.all" || s.RedeliveryDelay != 0 {
				return fmt.Sprintf("%+v", *s)
			}
			return ""
		}},
		{"orders.eu.old", func(s *Settings) string {
			// Fields unset in the most specific match fall back to less specific ones.
			if s.RedeliveryDelay != 100*time.Millisecond || s.MaxRedeliveryDelay != time.Second ||
				s.MaxDeliveryAttempts != 2 || s.DeadLetterAddress != "DLQ.all" || s.ExpiryAddress != "EXP.eu" {
				return fmt.Sprintf("%+v", *s)
			}
			return ""
		}},
		{"orders.eu.new", func(s *Settings) string {
			if s.LastValueKey != "k" || s.MaxSizeBytes != 1<<20 || s.RedeliveryDelay != 100*time.Millisecond ||
				s.FullPolicy != FullFail || s.ExpiryAddress != "EXP.eu" || s.MaxDeliveryAttempts != 2 {
				return fmt.Sprintf("%+v", *s)
			}
			return ""
		}},
		{"orders.eu.new.x", func(s *Settings) string {
			if s.LastValueKey != "" || s.RedeliveryDelay != 0 || s.ExpiryAddress != "EXP.eu" {
				return fmt.Sprintf("%+v", *s)
			}
			return ""
		}},
	}
	for _, tt := range tests {
		t.Run(tt.addr, func(t *testing.T) {
			for range 2 { // the second Resolve comes from the cache
				if bad := tt.check(repo.Resolve(tt.addr)); bad != "" {
					t.Errorf("Resolve(%q) = %s", tt.addr, bad)
				}
			}
		})
	}
}

func TestAddressSettingsValidation(t *testing.T) {
	tests := []struct {
		name string
		as   *AddressSettings
	}{
		{"unknown policy", &AddressSettings{AddressFullPolicy: ptr("SPILL")}},
		{"routing type", &AddressSettings{DefaultRoutingType: ptr("BROADCAST")}},
		{"multiplier below 1", &AddressSettings{RedeliveryDelayMultiplier: ptr(0.5)}},
		{"negative delay", &AddressSettings{RedeliveryDelay: ptr(int64(-1))}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := New(Config{Store: memory.New(), AddressSettings: settings("#", tt.as)}); err == nil {
				t.Error("New accepted invalid address settings")
			}
		})
	}
}

func TestParseByteSize(t *testing.T) {
	tests := []struct {
		in      string
		want    int64
		wantErr bool
	}{
		{"1048576", 1 << 20, false},
		{"1MiB", 1 << 20, false},
		{"1MB", 1 << 20, false},
		{"512k", 512 << 10, false},
		{"2 GB", 2 << 30, false},
		{"10b", 10, false},
		{"-1", -1, false},
		{"", 0, true},
		{"ten", 0, true},
		{"9999999999G", 0, true},
	}
	for _, tt := range tests {
		got, err := ParseByteSize(tt.in)
		if (err != nil) != tt.wantErr || (!tt.wantErr && got != tt.want) {
			t.Errorf("ParseByteSize(%q) = %d, %v; want %d, err %v", tt.in, got, err, tt.want, tt.wantErr)
		}
	}
}

func TestDefaultRoutingType(t *testing.T) {
	b := newTestBroker(t, Config{AddressSettings: settings("q.#", &AddressSettings{DefaultRoutingType: ptr("ANYCAST")})})
	s := newSession(t, b, SessionOptions{})
	send(t, s, msg("q.a", "x"))
	send(t, s, msg("t.a", "x"))
	// A message nobody can receive creates nothing.
	if info, ok := b.Address("t.a"); ok {
		t.Errorf("t.a = %+v, created for a message that reached no subscription", info)
	}
	if _, err := s.Subscribe(SubscribeOptions{Address: "t.#"}, ConsumerOptions{Handler: func(Delivery) {}}); err != nil {
		t.Fatal(err)
	}
	send(t, s, msg("t.a", "x"))
	if info, _ := b.Address("q.a"); !info.Anycast || info.Multicast {
		t.Errorf("q.a = %+v, want anycast", info)
	}
	if st := queueStats(t, b, "q.a"); st.Messages != 1 {
		t.Errorf("auto-created queue q.a holds %d messages, want 1", st.Messages)
	}
	if info, _ := b.Address("t.a"); info.Anycast || !info.Multicast {
		t.Errorf("t.a = %+v, want multicast (the default)", info)
	}
}

func fullSettings(policy string) Config {
	return Config{AddressSettings: settings("full", &AddressSettings{
		MaxSizeBytes: ptr(ByteSize(1000)), AddressFullPolicy: ptr(policy),
	})}
}

// fill sends two 300-byte messages to "full" (each about 430 bytes counted),
// after which a third does not fit under 1000 bytes.
func fill(t *testing.T, s *Session) {
	t.Helper()
	for range 2 {
		send(t, s, msg("full", strings.Repeat("x", 300)))
	}
}

func TestMaxSizeBytesFail(t *testing.T) {
	b := newTestBroker(t, fullSettings("FAIL"))
	s := newSession(t, b, SessionOptions{})
	c, col := consume(t, s, "full", ConsumerOptions{Credit: -1})
	fill(t, s)
	if err := sendErr(s, msg("full", strings.Repeat("x", 300))); !errors.Is(err, ErrAddressFull) {
		t.Fatalf("err = %v, want ErrAddressFull", err)
	}
	tx := s.Begin()
	if err := tx.Send(msg("full", strings.Repeat("x", 300))); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(context.Background(), nil); !errors.Is(err, ErrAddressFull) {
		t.Fatalf("Commit: err = %v, want ErrAddressFull", err)
	}
	tx.Rollback()
	// Consuming frees space.
	c.SetCredit(1)
	ackAll(t, col.take(t, 1))
	send(t, s, msg("full", strings.Repeat("x", 300)))
	if st := queueStats(t, b, "full"); st.Messages != 2 {
		t.Errorf("queue holds %d, want 2", st.Messages)
	}
}

func TestMaxSizeBytesDrop(t *testing.T) {
	b := newTestBroker(t, fullSettings("DROP"))
	s := newSession(t, b, SessionOptions{})
	consume(t, s, "full", ConsumerOptions{Credit: -1})
	fill(t, s)
	send(t, s, msg("full", strings.Repeat("x", 300)))
	if st := queueStats(t, b, "full"); st.Messages != 2 {
		t.Errorf("queue holds %d, want 2", st.Messages)
	}
	if st := b.Stats(); st.Dropped != 1 {
		t.Errorf("Stats.Dropped = %d, want 1", st.Dropped)
	}
}

// held reports whether a send waits in the address's admission line.
func held(b *Broker, name string) func() bool {
	return func() bool { return b.lookupAddress(name).adm.waiting() }
}

func TestMaxSizeBytesBlock(t *testing.T) {
	b := newTestBroker(t, fullSettings("BLOCK"))
	s := newSession(t, b, SessionOptions{})
	c, col := consume(t, s, "full", ConsumerOptions{Credit: -1})
	fill(t, s)
	p := s.NewProducer()
	sent := make(chan error, 1)
	// Send returns at once: the message is held, and confirmed later.
	if err := p.Send(context.Background(), msg("full", "third"), func(err error) { sent <- err }); err != nil {
		t.Fatalf("Send to a full BLOCK address: %v", err)
	}
	if !held(b, "full")() {
		t.Fatal("the send is not held")
	}
	if n := p.Held(); n == 0 {
		t.Fatal("Producer.Held = 0 with a send held")
	}
	released := make(chan struct{})
	if !p.OnRelease(0, func() { close(released) }) {
		t.Fatal("OnRelease refused a listener while a send is held")
	}
	select {
	case err := <-sent:
		t.Fatalf("held send confirmed (%v) while the address was full", err)
	default:
	}
	c.SetCredit(1)
	ackAll(t, col.take(t, 1))
	select {
	case err := <-sent:
		if err != nil {
			t.Fatalf("held send: %v", err)
		}
	case <-time.After(waitTimeout):
		t.Fatal("send still held after space was freed")
	}
	select {
	case <-released:
	case <-time.After(waitTimeout):
		t.Fatal("OnRelease listener not called")
	}
	if n := p.Held(); n != 0 {
		t.Errorf("Producer.Held = %d after admission, want 0", n)
	}
	if st := queueStats(t, b, "full"); st.Messages != 2 {
		t.Errorf("queue holds %d, want 2", st.Messages)
	}
}

func TestMaxSizeBytesBlockKeepsOrder(t *testing.T) {
	// Once a send waits, later sends to the address wait behind it even if
	// they would fit, and all are admitted in the order they were sent.
	b := newTestBroker(t, Config{AddressSettings: settings("full", &AddressSettings{
		MaxSizeBytes: ptr(ByteSize(1000)), AddressFullPolicy: ptr("BLOCK"),
	})})
	s := newSession(t, b, SessionOptions{})
	c, col := consume(t, s, "full", ConsumerOptions{Credit: -1})
	fill(t, s)
	p := s.NewProducer()
	var mu sync.Mutex
	var confirmed []string
	all := make(chan struct{})
	bodies := []string{strings.Repeat("a", 300), "b", "c", "d"}
	for _, body := range bodies {
		body := body
		if err := p.Send(context.Background(), msg("full", body), func(err error) {
			if err != nil {
				t.Errorf("send %q: %v", body[:1], err)
			}
			mu.Lock()
			confirmed = append(confirmed, body[:1])
			if len(confirmed) == len(bodies) {
				close(all)
			}
			mu.Unlock()
		}); err != nil {
			t.Fatal(err)
		}
	}
	c.SetCredit(100)
	var got []string
	for len(got) < 2+len(bodies) {
		for _, d := range col.take(t, 1) {
			got = append(got, string(d.Message.Body[:1]))
			ackAll(t, []Delivery{d})
		}
	}
	select {
	case <-all:
	case <-time.After(waitTimeout):
		t.Fatal("held sends not all confirmed")
	}
	if want := "x x a b c d"; strings.Join(got, " ") != want {
		t.Errorf("delivery order %q, want %q", strings.Join(got, " "), want)
	}
	if strings.Join(confirmed, "") != "abcd" {
		t.Errorf("confirmation order %q, want abcd", strings.Join(confirmed, ""))
	}
}

func TestMaxSizeBytesBlockCommitHeld(t *testing.T) {
	// A commit to a full address does not block its caller: it waits in the
	// line and its done fires once it is applied.
	b := newTestBroker(t, fullSettings("BLOCK"))
	s := newSession(t, b, SessionOptions{})
	c, col := consume(t, s, "full", ConsumerOptions{Credit: -1})
	fill(t, s)
	tx := s.Begin()
	if err := tx.Send(msg("full", "in tx")); err != nil {
		t.Fatal(err)
	}
	committed := make(chan error, 1)
	if err := tx.Commit(context.Background(), func(err error) { committed <- err }); err != nil {
		t.Fatalf("Commit: %v", err)
	}
	if !held(b, "full")() {
		t.Fatal("the commit is not held")
	}
	c.SetCredit(1)
	ackAll(t, col.take(t, 1))
	select {
	case err := <-committed:
		if err != nil {
			t.Fatalf("held commit: %v", err)
		}
	case <-time.After(waitTimeout):
		t.Fatal("commit still held after space was freed")
	}
	if st := queueStats(t, b, "full"); st.Messages != 2 {
		t.Errorf("queue holds %d, want 2", st.Messages)
	}
}

func TestMaxSizeBytesBlockCancel(t *testing.T) {
	b := newTestBroker(t, fullSettings("BLOCK"))
	s := newSession(t, b, SessionOptions{})
	consume(t, s, "full", ConsumerOptions{Credit: -1})
	fill(t, s)
	ctx, cancel := context.WithCancel(context.Background())
	p := s.NewProducer()
	sent := make(chan error, 1)
	if err := p.Send(ctx, msg("full", "third"), func(err error) { sent <- err }); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the send to be held", held(b, "full"))
	cancel()
	select {
	case err := <-sent:
		if !errors.Is(err, ErrAddressFull) || !errors.Is(err, context.Canceled) {
			t.Fatalf("withdrawn send: err = %v, want ErrAddressFull and context.Canceled", err)
		}
	case <-time.After(waitTimeout):
		t.Fatal("cancel did not withdraw the held send")
	}
	if held(b, "full")() || p.Held() != 0 {
		t.Error("withdrawn send still counted as held")
	}
	if st := queueStats(t, b, "full"); st.Messages != 2 {
		t.Errorf("queue holds %d, want 2", st.Messages)
	}
}

func TestMaxSizeBytesBlockClose(t *testing.T) {
	// Closing the broker answers held sends instead of leaving them hanging.
	b := newTestBroker(t, fullSettings("BLOCK"))
	s := newSession(t, b, SessionOptions{})
	consume(t, s, "full", ConsumerOptions{Credit: -1})
	fill(t, s)
	sent := make(chan error, 1)
	if err := s.Send(context.Background(), msg("full", "third"), func(err error) { sent <- err }); err != nil {
		t.Fatal(err)
	}
	_ = b.Close()
	select {
	case err := <-sent:
		if !errors.Is(err, ErrClosed) {
			t.Fatalf("held send at close: err = %v, want ErrClosed", err)
		}
	case <-time.After(waitTimeout):
		t.Fatal("held send not answered at close")
	}
}

func TestMaxSizeBytesBlockMessageLargerThanLimit(t *testing.T) {
	// A message that can never fit must not park its producer forever.
	b := newTestBroker(t, fullSettings("BLOCK"))
	s := newSession(t, b, SessionOptions{})
	consume(t, s, "full", ConsumerOptions{Credit: -1})
	if err := sendErr(s, msg("full", strings.Repeat("x", 2000))); !errors.Is(err, ErrAddressFull) {
		t.Fatalf("err = %v, want ErrAddressFull", err)
	}
}

func TestSendWithoutRoutingTypeAfterQueueAutoDeleted(t *testing.T) {
	// A consumer auto-creates an anycast queue and leaves; the empty queue is
	// auto-deleted but its address stays anycast. A send that names no
	// routing type must bring the queue back, not vanish.
	b := newTestBroker(t, Config{})
	s := newSession(t, b, SessionOptions{})
	c, _ := consume(t, s, "work", ConsumerOptions{})
	c.Close()
	if _, ok := b.Queue("work"); ok {
		t.Fatal("precondition: the queue should have been auto-deleted")
	}
	send(t, s, msg("work", "kept"))
	if st := b.Stats(); st.Dropped != 0 {
		t.Fatalf("message dropped: %+v", st)
	}
	_, col := consume(t, s, "work", ConsumerOptions{})
	if d := col.next(t, waitTimeout); string(d.Message.Body) != "kept" {
		t.Errorf("got %q", d.Message.Body)
	}
}

func TestResubscribeWithOtherSelectorReplacesSubscription(t *testing.T) {
	b := newTestBroker(t, Config{})
	s := newSession(t, b, SessionOptions{ClientID: "c"})
	c, _ := subscribe(t, s, SubscribeOptions{Address: "t", Name: "n", Durable: true, Selector: "x = 1"}, ConsumerOptions{Credit: -1})
	send(t, s, msg("t", "old", "x", 1))
	c.Close()
	_, col := subscribe(t, s, SubscribeOptions{Address: "t", Name: "n", Durable: true, Selector: "x = 2"}, ConsumerOptions{})
	col.none(t) // the old subscription and its message are gone
	send(t, s, msg("t", "one", "x", 1))
	send(t, s, msg("t", "two", "x", 2))
	if got := bodies(col.take(t, 1)); got[0] != "two" {
		t.Errorf("got %v", got)
	}
	col.none(t)
}

func TestUnsubscribeWhileConsumed(t *testing.T) {
	b := newTestBroker(t, Config{})
	s := newSession(t, b, SessionOptions{ClientID: "c"})
	subscribe(t, s, SubscribeOptions{Address: "t", Name: "busy", Durable: true}, ConsumerOptions{})
	if err := s.Unsubscribe("busy"); !errors.Is(err, ErrSubscriptionInUse) {
		t.Errorf("Unsubscribe with an active consumer: %v, want ErrSubscriptionInUse", err)
	}
	if _, ok := b.Queue("c.busy"); !ok {
		t.Error("subscription deleted under its consumer")
	}
}

func TestDeadLetterFromSubscription(t *testing.T) {
	b := newTestBroker(t, Config{AddressSettings: settings("sensors.#", &AddressSettings{DeadLetterAddress: ptr("DLQ.sensors")})})
	s := newSession(t, b, SessionOptions{ClientID: "c"})
	_, dl := consume(t, s, "DLQ.sensors", ConsumerOptions{})
	c, col := subscribe(t, s, SubscribeOptions{Address: "sensors.*", Name: "all", Durable: true}, ConsumerOptions{})
	send(t, s, msg("sensors.temp", "21"))
	if err := c.Reject(col.next(t, waitTimeout).Tag, ""); err != nil {
		t.Fatal(err)
	}
	d := dl.next(t, waitTimeout)
	// The original address is where the message was sent, not the pattern.
	checkDeadLetter(t, d.Message, "sensors.temp", "c.all", "rejected")
}

func TestMaxSizeBytesBlockWakesEveryProducer(t *testing.T) {
	b := newTestBroker(t, fullSettings("BLOCK"))
	s := newSession(t, b, SessionOptions{})
	c, col := consume(t, s, "full", ConsumerOptions{Credit: -1})
	fill(t, s)
	const blocked = 3
	sent := make(chan error, blocked)
	for i := range blocked {
		go func() { sent <- sendErr(s, msg("full", fmt.Sprint("blocked-", i, strings.Repeat("x", 290)))) }()
	}
	waitFor(t, "the sends to be held", func() bool { return b.lookupAddress("full").adm.n.Load() == blocked })
	// Consume everything as it comes: each ack lets one more producer in.
	c.SetCredit(1 << 20)
	for done := 0; done < blocked; {
		select {
		case err := <-sent:
			if err != nil {
				t.Fatal(err)
			}
			done++
		case d := <-col.ch:
			ackAll(t, []Delivery{d})
		case <-time.After(waitTimeout):
			t.Fatalf("%d producers still blocked", blocked-done)
		}
	}
}

func TestProducerCloseWithdrawsHeldSends(t *testing.T) {
	b := newTestBroker(t, fullSettings("BLOCK"))
	s := newSession(t, b, SessionOptions{})
	consume(t, s, "full", ConsumerOptions{Credit: -1})
	fill(t, s)
	p := s.NewProducer()
	sent := make(chan error, 2)
	for range 2 {
		if err := p.Send(context.Background(), msg("full", strings.Repeat("h", 300)), func(err error) { sent <- err }); err != nil {
			t.Fatal(err)
		}
	}
	p.Close()
	for range 2 {
		select {
		case err := <-sent:
			if !errors.Is(err, ErrClosed) {
				t.Fatalf("withdrawn send: err = %v, want ErrClosed", err)
			}
		case <-time.After(waitTimeout):
			t.Fatal("Close did not answer a held send")
		}
	}
	if held(b, "full")() || p.Held() != 0 {
		t.Error("sends still held after Close")
	}
	if err := p.Send(context.Background(), msg("full", "late"), nil); !errors.Is(err, ErrClosed) {
		t.Errorf("Send after Close: %v, want ErrClosed", err)
	}
}

func TestProducerCloseWithdrawsHeldCommit(t *testing.T) {
	// A held commit withdrawn by its producer is rolled back: its acked
	// message is redelivered, its send never happens.
	b := newTestBroker(t, fullSettings("BLOCK"))
	s := newSession(t, b, SessionOptions{})
	in, inCol := consume(t, s, "in", ConsumerOptions{Credit: 10, Window: true})
	send(t, s, msg("in", "to ack"))
	d := inCol.take(t, 1)[0]
	consume(t, s, "full", ConsumerOptions{Credit: -1})
	fill(t, s)
	tx := s.Begin()
	if err := tx.Ack(in, d.Tag); err != nil {
		t.Fatal(err)
	}
	if err := tx.Send(msg("full", strings.Repeat("t", 300))); err != nil {
		t.Fatal(err)
	}
	p := s.NewProducer()
	committed := make(chan error, 1)
	if err := p.Commit(context.Background(), tx, func(err error) { committed <- err }); err != nil {
		t.Fatalf("Commit: %v", err)
	}
	if !held(b, "full")() || p.Held() == 0 {
		t.Fatal("the commit is not held")
	}
	p.Close()
	select {
	case err := <-committed:
		if !errors.Is(err, ErrClosed) {
			t.Fatalf("withdrawn commit: err = %v, want ErrClosed", err)
		}
	case <-time.After(waitTimeout):
		t.Fatal("Close did not answer the held commit")
	}
	if re := inCol.next(t, waitTimeout); re.Message.ID != d.Message.ID || re.DeliveryCount != 2 {
		t.Errorf("redelivered %d (count %d), want %d again", re.Message.ID, re.DeliveryCount, d.Message.ID)
	}
	if st := queueStats(t, b, "full"); st.Messages != 2 {
		t.Errorf("full holds %d, want 2: the withdrawn commit's send went through", st.Messages)
	}
}
