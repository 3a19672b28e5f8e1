package core

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"
)

func TestExpiryAtDelivery(t *testing.T) {
	tests := []struct {
		name       string
		expiryAddr *string // nil: the default, ExpiryQueue
		wantMoved  bool
	}{
		{"moved to expiry address", nil, true},
		{"moved to configured expiry address", ptr("EXP"), true},
		{"dropped without expiry address", ptr(""), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clock := newFakeClock()
			b := newTestBroker(t, Config{Now: clock.Now, AddressSettings: settings("q", &AddressSettings{ExpiryAddress: tt.expiryAddr})})
			s := newSession(t, b, SessionOptions{})
			target := "ExpiryQueue"
			if tt.expiryAddr != nil {
				target = *tt.expiryAddr
			}
			var exp *collector
			if target != "" {
				_, exp = consume(t, s, target, ConsumerOptions{})
			}
			c, col := consume(t, s, "q", ConsumerOptions{Credit: -1})
			m := msg("q", "stale", "k", "v")
			m.RoutingType = Anycast
			m.Expiration = clock.ms() + 1000
			send(t, s, m)
			fresh := msg("q", "fresh")
			fresh.RoutingType = Anycast
			send(t, s, fresh)
			clock.Advance(2 * time.Second)
			var browsed []string
			if err := s.Browse("q", "", func(m *Message) bool { browsed = append(browsed, string(m.Body)); return true }); err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(browsed, []string{"fresh"}) {
				t.Errorf("browse shows %v, want only the unexpired message", browsed)
			}
			c.SetCredit(5)
			if got := bodies(col.take(t, 1)); got[0] != "fresh" {
				t.Errorf("consumer got %v", got)
			}
			col.none(t)
			if st := c.Queue().Stats(); st.Expired != 1 || st.Messages != 1 {
				t.Errorf("queue stats = %+v", st)
			}
			if st := b.Stats(); st.Expired != 1 {
				t.Errorf("broker Expired = %d", st.Expired)
			}
			if !tt.wantMoved {
				return
			}
			d := exp.next(t, waitTimeout)
			em := d.Message
			if string(em.Body) != "stale" || em.Property("k").Text() != "v" || em.Address != target {
				t.Errorf("expired copy = %q at %q, props %v", em.Body, em.Address, em.Properties)
			}
			if em.Property(PropOrigAddress).Text() != "q" || em.Property(PropOrigQueue).Text() != "q" {
				t.Errorf("origin properties: %v", em.Properties)
			}
			if em.Property(PropExpiredAt).IsNull() || em.Expiration != 0 {
				t.Errorf("expired copy: %s = %v, Expiration = %d", PropExpiredAt, em.Property(PropExpiredAt), em.Expiration)
			}
		})
	}
}

func TestExpiredOnArrivalNeverDelivered(t *testing.T) {
	clock := newFakeClock()
	b := newTestBroker(t, Config{Now: clock.Now, AddressSettings: settings("#", &AddressSettings{ExpiryAddress: ptr("")})})
	s := newSession(t, b, SessionOptions{})
	_, col := consume(t, s, "q", ConsumerOptions{})
	m := msg("q", "late")
	m.Expiration = clock.ms() - 1
	m.RoutingType = Anycast
	send(t, s, m)
	col.none(t)
	if st := b.Stats(); st.Expired != 1 {
		t.Errorf("Expired = %d, want 1", st.Expired)
	}
}

func TestExpiryReaper(t *testing.T) {
	t.Run("moves ready and scheduled messages", func(t *testing.T) {
		clock := newFakeClock()
		b := newTestBroker(t, Config{Now: clock.Now, ReaperInterval: 2 * time.Millisecond})
		s := newSession(t, b, SessionOptions{})
		_, exp := consume(t, s, "ExpiryQueue", ConsumerOptions{})
		for i, sched := range []int64{0, clock.ms() + 60_000} {
			m := msg("q", fmt.Sprint(i))
			m.RoutingType = Anycast
			m.Expiration = clock.ms() + 1000
			m.ScheduledAt = sched
			send(t, s, m)
		}
		if st := queueStats(t, b, "q"); st.Ready != 1 || st.Scheduled != 1 {
			t.Fatalf("stats before expiry: %+v", st)
		}
		clock.Advance(2 * time.Second)
		got := bodies(exp.take(t, 2))
		slices.Sort(got)
		if !slices.Equal(got, []string{"0", "1"}) {
			t.Errorf("expiry queue got %v", got)
		}
		if st := queueStats(t, b, "q"); st.Messages != 0 || st.Expired != 2 {
			t.Errorf("stats after expiry: %+v", st)
		}
	})
	t.Run("drops without expiry address", func(t *testing.T) {
		clock := newFakeClock()
		b := newTestBroker(t, Config{Now: clock.Now, ReaperInterval: 2 * time.Millisecond,
			AddressSettings: settings("#", &AddressSettings{ExpiryAddress: ptr("")})})
		s := newSession(t, b, SessionOptions{})
		m := msg("q", "x")
		m.RoutingType = Anycast
		m.Expiration = clock.ms() + 1000
		send(t, s, m)
		clock.Advance(2 * time.Second)
		waitFor(t, "the reaper to expire the message", func() bool { return b.Stats().Expired == 1 })
		if st := queueStats(t, b, "q"); st.Messages != 0 {
			t.Errorf("queue still holds %d", st.Messages)
		}
	})
}

func TestExpiryDelayBounds(t *testing.T) {
	clock := newFakeClock()
	b := newTestBroker(t, Config{Now: clock.Now, AddressSettings: settings("#", &AddressSettings{
		MinExpiryDelay: ptr(int64(1000)), MaxExpiryDelay: ptr(int64(5000)),
	})})
	s := newSession(t, b, SessionOptions{})
	now := clock.ms()
	tests := []struct {
		expiration, want int64
	}{
		{0, now + 5000},           // none given: the maximum applies
		{now + 10, now + 1000},    // raised to the minimum
		{now + 3000, now + 3000},  // within bounds
		{now + 99999, now + 5000}, // lowered to the maximum
	}
	for _, tt := range tests {
		m := msg("q", "")
		m.RoutingType = Anycast
		m.Expiration = tt.expiration
		send(t, s, m)
		if m.Expiration != tt.want {
			t.Errorf("expiration %d became %d, want %d", tt.expiration-now, m.Expiration-now, tt.want-now)
		}
	}
}

func TestScheduledDelivery(t *testing.T) {
	clock := newFakeClock()
	b := newTestBroker(t, Config{Now: clock.Now})
	s := newSession(t, b, SessionOptions{})
	_, col := consume(t, s, "q", ConsumerOptions{})
	for _, tc := range []struct {
		body string
		at   int64
	}{{"later", 20}, {"sooner", 10}, {"now", 0}} {
		m := msg("q", tc.body)
		m.RoutingType = Anycast
		if tc.at > 0 {
			m.ScheduledAt = clock.ms() + tc.at
		}
		send(t, s, m)
	}
	if got := bodies(col.take(t, 1)); got[0] != "now" {
		t.Fatalf("got %v", got)
	}
	col.none(t)
	if st := queueStats(t, b, "q"); st.Scheduled != 2 || st.Messages != 3 {
		t.Errorf("stats = %+v", st)
	}
	var browsed int
	_ = s.Browse("q", "", func(*Message) bool { browsed++; return true })
	if browsed != 0 {
		t.Errorf("browse shows %d scheduled messages", browsed)
	}
	clock.Advance(time.Second)
	if got := bodies(col.take(t, 2)); !slices.Equal(got, []string{"sooner", "later"}) {
		t.Errorf("scheduled messages arrived as %v", got)
	}
}

func TestScheduledDeliveryRealClock(t *testing.T) {
	b := newTestBroker(t, Config{})
	s := newSession(t, b, SessionOptions{})
	_, col := consume(t, s, "q", ConsumerOptions{})
	m := msg("q", "x")
	m.RoutingType = Anycast
	m.ScheduledAt = time.Now().Add(30 * time.Millisecond).UnixMilli()
	send(t, s, m)
	d := col.next(t, waitTimeout)
	if now := time.Now().UnixMilli(); now < m.ScheduledAt {
		t.Errorf("delivered %d ms before its scheduled time", m.ScheduledAt-now)
	}
	if d.DeliveryCount != 1 {
		t.Errorf("count %d", d.DeliveryCount)
	}
}

func TestTransactionSends(t *testing.T) {
	b := newTestBroker(t, Config{})
	s := newSession(t, b, SessionOptions{})
	_, col := consume(t, s, "q", ConsumerOptions{})
	tx := s.Begin()
	for i := range 3 {
		m := msg("q", fmt.Sprint(i))
		m.RoutingType = Anycast
		m.Durable = true
		if err := tx.Send(m); err != nil {
			t.Fatal(err)
		}
	}
	col.none(t)
	done := make(chan error, 1)
	if err := tx.Commit(context.Background(), func(err error) { done <- err }); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if got := bodies(col.take(t, 3)); !slices.Equal(got, []string{"0", "1", "2"}) {
		t.Errorf("after commit got %v", got)
	}
	if err := tx.Send(msg("q", "late")); !errors.Is(err, ErrTxDone) {
		t.Errorf("Send after Commit: %v, want ErrTxDone", err)
	}
	if err := tx.Commit(context.Background(), nil); !errors.Is(err, ErrTxDone) {
		t.Errorf("second Commit: %v, want ErrTxDone", err)
	}

	tx = s.Begin()
	if err := tx.Send(msg("q", "discarded")); err != nil {
		t.Fatal(err)
	}
	tx.Rollback()
	col.none(t)
	if err := tx.Commit(context.Background(), nil); !errors.Is(err, ErrTxDone) {
		t.Errorf("Commit after Rollback: %v, want ErrTxDone", err)
	}
}

func TestTransactionCommitIsAllOrNothing(t *testing.T) {
	b := newTestBroker(t, Config{AddressSettings: settings("strict.#", &AddressSettings{AutoCreateAddresses: ptr(false)})})
	s := newSession(t, b, SessionOptions{})
	_, col := consume(t, s, "q", ConsumerOptions{})
	tx := s.Begin()
	ok := msg("q", "ok")
	ok.RoutingType = Anycast
	if err := tx.Send(ok); err != nil {
		t.Fatal(err)
	}
	if err := tx.Send(msg("strict.missing", "bad")); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(context.Background(), nil); !errors.Is(err, ErrNoSuchAddress) {
		t.Fatalf("Commit: %v, want ErrNoSuchAddress", err)
	}
	col.none(t)
	tx.Rollback()
	col.none(t)
}

func TestTransactionAcks(t *testing.T) {
	b := newTestBroker(t, Config{})
	s := newSession(t, b, SessionOptions{})
	c, col := consume(t, s, "q", ConsumerOptions{Credit: 10, Window: true})
	fillQueue(t, s, "q", 4)
	ds := col.take(t, 4)

	tx := s.Begin()
	if err := tx.Ack(c, ds[0].Tag); err != nil {
		t.Fatal(err)
	}
	if err := tx.Ack(c, ds[0].Tag); !errors.Is(err, ErrUnknownDelivery) {
		t.Errorf("acking twice in a transaction: %v", err)
	}
	if err := c.Ack(ds[0].Tag); !errors.Is(err, ErrUnknownDelivery) {
		t.Errorf("plain ack of a transactionally acked delivery: %v", err)
	}
	reply := msg("replies", "reply")
	reply.RoutingType = Anycast
	if err := tx.Send(reply); err != nil {
		t.Fatal(err)
	}
	_, replies := consume(t, s, "replies", ConsumerOptions{})
	// Nothing is visible before the commit: the ack has not consumed.
	if st := c.Queue().Stats(); st.Acked != 0 || st.InFlight != 4 {
		t.Errorf("before commit: %+v", st)
	}
	replies.none(t)
	if err := tx.Commit(context.Background(), nil); err != nil {
		t.Fatal(err)
	}
	if st := c.Queue().Stats(); st.Acked != 1 || st.InFlight != 3 {
		t.Errorf("after commit: %+v", st)
	}
	replies.next(t, waitTimeout)

	// Cumulative transactional ack, then rollback: the messages come back
	// with their delivery count incremented.
	tx = s.Begin()
	if err := tx.AckUpTo(c, ds[2].Tag); err != nil {
		t.Fatal(err)
	}
	if err := tx.Send(msg("replies", "never")); err != nil {
		t.Fatal(err)
	}
	tx.Rollback()
	redelivered := col.take(t, 2)
	for i, d := range redelivered {
		if want := fmt.Sprint(i + 1); string(d.Message.Body) != want || d.DeliveryCount != 2 {
			t.Errorf("redelivered %q count %d, want %q count 2", d.Message.Body, d.DeliveryCount, want)
		}
	}
	replies.none(t)
	if st := c.Queue().Stats(); st.Acked != 1 || st.Messages != 3 {
		t.Errorf("after rollback: %+v", st)
	}
}

func TestTransactionAckSurvivesConsumerClose(t *testing.T) {
	for _, commit := range []bool{true, false} {
		t.Run(fmt.Sprintf("commit=%v", commit), func(t *testing.T) {
			b := newTestBroker(t, Config{})
			s := newSession(t, b, SessionOptions{})
			c, col := consume(t, s, "q", ConsumerOptions{Credit: 1})
			fillQueue(t, s, "q", 2)
			d := col.next(t, waitTimeout)
			tx := s.Begin()
			if err := tx.Ack(c, d.Tag); err != nil {
				t.Fatal(err)
			}
			c.Close()
			_, col2 := consume(t, s, "q", ConsumerOptions{})
			if got := bodies(col2.take(t, 1)); got[0] != "1" {
				t.Fatalf("other consumer got %v while the transaction holds \"0\"", got)
			}
			col2.none(t)
			if commit {
				if err := tx.Commit(context.Background(), nil); err != nil {
					t.Fatal(err)
				}
				col2.none(t)
				if st := queueStats(t, b, "q"); st.Acked != 1 {
					t.Errorf("stats: %+v", st)
				}
				return
			}
			tx.Rollback()
			if d := col2.next(t, waitTimeout); string(d.Message.Body) != "0" || d.DeliveryCount != 2 {
				t.Errorf("after rollback got %q count %d", d.Message.Body, d.DeliveryCount)
			}
		})
	}
}

func TestTemporaryQueue(t *testing.T) {
	b := newTestBroker(t, Config{})
	owner := b.NewSession(SessionOptions{})
	other := newSession(t, b, SessionOptions{})
	q, err := owner.CreateTemporaryQueue("tmp.reply")
	if err != nil {
		t.Fatal(err)
	}
	if info := q.Info(); !info.Temporary || info.Durable {
		t.Errorf("temporary queue info = %+v", info)
	}
	if _, err := other.CreateTemporaryQueue("tmp.reply"); !errors.Is(err, ErrQueueExists) {
		t.Errorf("second CreateTemporaryQueue: %v, want ErrQueueExists", err)
	}
	_, col := consume(t, owner, "tmp.reply", ConsumerOptions{})
	send(t, other, msg("tmp.reply", "answer"))
	if d := col.next(t, waitTimeout); string(d.Message.Body) != "answer" {
		t.Errorf("got %q", d.Message.Body)
	}
	send(t, other, msg("tmp.reply", "unread"))
	owner.Close()
	if _, ok := b.Queue("tmp.reply"); ok {
		t.Fatal("temporary queue survived its session")
	}
	if n := b.Stats().Queues; n != 0 {
		t.Errorf("%d queues left", n)
	}
}

func TestLastValueQueue(t *testing.T) {
	b := newTestBroker(t, Config{AddressSettings: settings("prices.#", &AddressSettings{LastValueKey: ptr("stock")})})
	s := newSession(t, b, SessionOptions{})
	c, col := consume(t, s, "prices.q", ConsumerOptions{Credit: -1})
	for _, kv := range [][2]string{{"ACME", "1"}, {"INIT", "1"}, {"ACME", "2"}, {"", "none"}, {"ACME", "3"}} {
		m := msg("prices.q", kv[0]+kv[1])
		if kv[0] != "" {
			m.SetProperty("stock", stringValue(kv[0]))
		}
		m.RoutingType = Anycast
		send(t, s, m)
	}
	if st := c.Queue().Stats(); st.Messages != 3 {
		t.Errorf("queue holds %d, want 3 (one per key, plus the keyless one)", st.Messages)
	}
	c.SetCredit(3)
	ds := col.take(t, 3)
	if got := bodies(ds); !slices.Equal(got, []string{"INIT1", "none", "ACME3"}) {
		t.Errorf("got %v", got)
	}
	col.none(t)

	// A delivered value is not replaced: a newer one queues behind it. When
	// the older one is released after that, the newer one stands and the
	// older is dropped.
	m := msg("prices.q", "ACME4", "stock", "ACME")
	m.RoutingType = Anycast
	send(t, s, m)
	if st := c.Queue().Stats(); st.Messages != 4 || st.Ready != 1 {
		t.Errorf("after a new value for a delivered key: %+v", st)
	}
	if err := c.Release(ds[2].Tag); err != nil {
		t.Fatal(err)
	}
	c.AddCredit(5)
	if got := bodies(col.take(t, 1)); got[0] != "ACME4" {
		t.Errorf("after release got %v", got)
	}
	col.none(t)
	if st := c.Queue().Stats(); st.Messages != 3 {
		t.Errorf("queue holds %d, want 3", st.Messages)
	}
}

func TestAuthorize(t *testing.T) {
	type call struct {
		p    Permission
		addr string
	}
	tests := []struct {
		name string
		do   func(t *testing.T, s *Session) error
		want []call
	}{
		{"send", func(t *testing.T, s *Session) error { return sendErr(s, msg("existing", "x")) },
			[]call{{PermSend, "existing"}}},
		{"send auto-creates address", func(t *testing.T, s *Session) error { return sendErr(s, msg("fresh", "x")) },
			[]call{{PermSend, "fresh"}, {PermCreateAddress, "fresh"}}},
		{"consume", func(t *testing.T, s *Session) error {
			_, err := s.Consume("existingq", ConsumerOptions{Handler: func(Delivery) {}})
			return err
		}, []call{{PermConsume, "existingq"}}},
		{"consume auto-creates address", func(t *testing.T, s *Session) error {
			_, err := s.Consume("newq", ConsumerOptions{Handler: func(Delivery) {}})
			return err
		}, []call{{PermConsume, "newq"}, {PermCreateAddress, "newq"}}},
		{"durable subscription", func(t *testing.T, s *Session) error {
			_, err := s.Subscribe(SubscribeOptions{Address: "existing", Name: "d", Durable: true}, ConsumerOptions{Handler: func(Delivery) {}})
			return err
		}, []call{{PermConsume, "existing"}, {PermCreateDurableQueue, "existing"}}},
		{"non-durable subscription", func(t *testing.T, s *Session) error {
			_, err := s.Subscribe(SubscribeOptions{Address: "existing"}, ConsumerOptions{Handler: func(Delivery) {}})
			return err
		}, []call{{PermConsume, "existing"}, {PermCreateNonDurableQueue, "existing"}}},
		{"temporary queue", func(t *testing.T, s *Session) error {
			_, err := s.CreateTemporaryQueue("tmp")
			return err
		}, []call{{PermCreateNonDurableQueue, "tmp"}}},
		{"browse", func(t *testing.T, s *Session) error {
			return s.Browse("existingq", "", func(*Message) bool { return true })
		}, []call{{PermBrowse, "existingq"}}},
		{"unsubscribe", func(t *testing.T, s *Session) error { return s.Unsubscribe("kept") },
			[]call{{PermDeleteDurableQueue, "existing"}}},
		// DeleteQueue and MayDeleteQueue catch the mutation "no authorize
		// call": MQTT UNSUBSCRIBE relies on the refusal (issue 17).
		{"delete durable queue", func(t *testing.T, s *Session) error { return s.DeleteQueue("app.kept") },
			[]call{{PermDeleteDurableQueue, "existing"}}},
		{"may delete durable queue", func(t *testing.T, s *Session) error { return s.MayDeleteQueue("app.kept") },
			[]call{{PermDeleteDurableQueue, "existing"}}},
	}
	for _, tt := range tests {
		setup := func(t *testing.T, authorize func(Permission, string) error) (*Broker, *Session) {
			b := newTestBroker(t, Config{})
			admin := newSession(t, b, SessionOptions{ClientID: "app"})
			if err := b.CreateAddress("existing", Multicast); err != nil {
				t.Fatal(err)
			}
			c, _ := subscribe(t, admin, SubscribeOptions{Address: "existing", Name: "kept", Durable: true}, ConsumerOptions{})
			c.Close()
			q, _ := consume(t, admin, "existingq", ConsumerOptions{})
			_ = q
			return b, newSession(t, b, SessionOptions{ClientID: "app", Authorize: authorize})
		}
		t.Run(tt.name+"/asks", func(t *testing.T) {
			var calls []call
			_, s := setup(t, func(p Permission, addr string) error {
				calls = append(calls, call{p, addr})
				return nil
			})
			if err := tt.do(t, s); err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(calls, tt.want) {
				t.Errorf("authorizer asked %v, want %v", calls, tt.want)
			}
		})
		for _, denied := range tt.want {
			t.Run(fmt.Sprintf("%s/denied %s", tt.name, denied.p), func(t *testing.T) {
				deny := errors.New("no")
				b, s := setup(t, func(p Permission, addr string) error {
					if p == denied.p {
						return deny
					}
					return nil
				})
				before := b.Stats()
				err := tt.do(t, s)
				var pe *PermissionError
				if !errors.As(err, &pe) {
					t.Fatalf("err = %v, want *PermissionError", err)
				}
				if pe.Permission != denied.p || pe.Address != denied.addr || !errors.Is(err, deny) {
					t.Errorf("PermissionError = %+v", pe)
				}
				after := b.Stats()
				if after.Sent != before.Sent || after.Queues != before.Queues {
					t.Errorf("a denied action had effects: %+v -> %+v", before, after)
				}
			})
		}
	}
}

// TestDeleteQueue: DeleteQueue refuses a queue with consumers and an unknown
// one, deletes a durable queue with its messages, and asks for the
// non-durable permission for a non-durable queue. Catches the mutations
// "no busy check" (the attached consumer's queue would vanish) and "durable
// and non-durable permissions swapped".
func TestDeleteQueue(t *testing.T) {
	b := newTestBroker(t, Config{})
	var asked []Permission
	s := newSession(t, b, SessionOptions{ClientID: "app", Authorize: func(p Permission, _ string) error {
		asked = append(asked, p)
		return nil
	}})
	if err := s.DeleteQueue("nothing"); !errors.Is(err, ErrNoSuchQueue) {
		t.Fatalf("DeleteQueue of an unknown queue: %v, want ErrNoSuchQueue", err)
	}
	if err := s.MayDeleteQueue("nothing"); !errors.Is(err, ErrNoSuchQueue) {
		t.Fatalf("MayDeleteQueue of an unknown queue: %v, want ErrNoSuchQueue", err)
	}

	c, _ := subscribe(t, s, SubscribeOptions{Address: "news", Name: "d", Durable: true}, ConsumerOptions{})
	send(t, s, msg("news", "kept"))
	if err := s.DeleteQueue("app.d"); !errors.Is(err, ErrSubscriptionInUse) {
		t.Fatalf("DeleteQueue with a consumer: %v, want ErrSubscriptionInUse", err)
	}
	if err := s.MayDeleteQueue("app.d"); err != nil {
		t.Fatalf("MayDeleteQueue with a consumer: %v (it ignores consumers)", err)
	}
	if st := queueStats(t, b, "app.d"); st.Messages != 1 {
		t.Fatalf("refused delete changed the queue: %+v", st)
	}
	c.Close()
	asked = nil
	if err := s.DeleteQueue("app.d"); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(asked, []Permission{PermDeleteDurableQueue}) {
		t.Errorf("deleting a durable queue asked %v", asked)
	}
	if _, ok := b.Queue("app.d"); ok {
		t.Fatal("queue still there after DeleteQueue")
	}
	if err := s.DeleteQueue("app.d"); !errors.Is(err, ErrNoSuchQueue) {
		t.Fatalf("second DeleteQueue: %v, want ErrNoSuchQueue", err)
	}

	if _, err := s.CreateTemporaryQueue("tmp"); err != nil {
		t.Fatal(err)
	}
	asked = nil
	if err := s.DeleteQueue("tmp"); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(asked, []Permission{PermDeleteNonDurableQueue}) {
		t.Errorf("deleting a temporary queue asked %v", asked)
	}
}

func TestPermissionNames(t *testing.T) {
	want := map[Permission]string{
		PermSend: "send", PermConsume: "consume", PermBrowse: "browse", PermCreateAddress: "createAddress",
		PermDeleteAddress: "deleteAddress", PermCreateDurableQueue: "createDurableQueue",
		PermDeleteDurableQueue: "deleteDurableQueue", PermCreateNonDurableQueue: "createNonDurableQueue",
		PermDeleteNonDurableQueue: "deleteNonDurableQueue", PermManage: "manage", 0: "", 200: "permission?",
	}
	for p, name := range want {
		if got := p.String(); got != name {
			t.Errorf("Permission(%d) = %q, want %q", p, got, name)
		}
	}
	e := &PermissionError{Permission: PermSend, Address: "a"}
	if e.Error() == "" || e.Unwrap() != nil {
		t.Errorf("PermissionError without cause: %q", e.Error())
	}
}

func TestUserIDStamping(t *testing.T) {
	b := newTestBroker(t, Config{})
	s := newSession(t, b, SessionOptions{User: "alice"})
	_, col := consume(t, s, "q", ConsumerOptions{})
	for _, viaTx := range []bool{false, true} {
		m := msg("q", "x", PropUserID, "mallory", "other", "kept")
		m.UserID = "mallory"
		m.RoutingType = Anycast
		if viaTx {
			tx := s.Begin()
			if err := tx.Send(m); err != nil {
				t.Fatal(err)
			}
			if err := tx.Commit(context.Background(), nil); err != nil {
				t.Fatal(err)
			}
		} else {
			send(t, s, m)
		}
		d := col.next(t, waitTimeout)
		if d.Message.UserID != "alice" {
			t.Errorf("tx=%v: UserID = %q, want alice", viaTx, d.Message.UserID)
		}
		if v := d.Message.Property(PropUserID); !v.IsNull() {
			t.Errorf("tx=%v: client-supplied %s = %v survived", viaTx, PropUserID, v)
		}
		if d.Message.Property("other").Text() != "kept" {
			t.Errorf("tx=%v: other properties lost: %v", viaTx, d.Message.Properties)
		}
	}
}
