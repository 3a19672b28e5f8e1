package stomp_test

import (
	"strconv"
	"testing"
	"time"

	stompc "github.com/go-stomp/stomp/v3"

	"github.com/junctionmq/junction/core"
)

// TestNackRedelivery checks that a NACKed message comes back marked as
// redelivered with its delivery count (spec "NACK"; the redelivered and
// delivery-count headers are ActiveMQ's and Artemis').
func TestNackRedelivery(t *testing.T) {
	for _, mode := range []stompc.AckMode{stompc.AckClient, stompc.AckClientIndividual} {
		t.Run(mode.String(), func(t *testing.T) {
			s := startBroker(t, nil)
			c := dial(t, s)
			sub := c.subscribe("/queue/nack", mode)
			dial(t, s).send("/queue/nack", "retry me")
			for attempt := 1; attempt <= 3; attempt++ {
				m := recv(t, sub)
				if string(m.Body) != "retry me" {
					t.Fatalf("attempt %d: got %q", attempt, m.Body)
				}
				wantHeader(t, m, "redelivered", strconv.FormatBool(attempt > 1))
				wantHeader(t, m, "delivery-count", strconv.Itoa(attempt))
				if err := c.Nack(m); err != nil {
					t.Fatal(err)
				}
			}
			m := recv(t, sub)
			wantHeader(t, m, "delivery-count", "4")
			if err := c.Ack(m); err != nil {
				t.Fatal(err)
			}
			c.sync()
			if st := queueStats(t, s, "nack"); st.Messages != 0 {
				t.Fatalf("after ACK the queue still holds %+v", st)
			}
		})
	}
}

// TestClientAckCumulative checks ack:client (spec "SUBSCRIBE ack Header":
// "The ACK frames sent by the client will be treated as a cumulative
// acknowledgment"): ACKing the third message acknowledges the first three;
// the rest come back when the consumer goes away.
func TestClientAckCumulative(t *testing.T) {
	versions := []stompc.Version{stompc.V11, stompc.V12}
	for _, v := range versions {
		t.Run("STOMP "+string(v), func(t *testing.T) {
			s := startBroker(t, nil)
			producer := dial(t, s)
			for _, b := range seqBodies("m", 5) {
				producer.send("/queue/cumul", b)
			}
			c := dial(t, s, stompc.ConnOpt.AcceptVersion(v))
			sub := c.subscribe("/queue/cumul", stompc.AckClient)
			var msgs []*stompc.Message
			for range 5 {
				msgs = append(msgs, recv(t, sub))
			}
			if err := c.Ack(msgs[2]); err != nil {
				t.Fatal(err)
			}
			c.sync()
			if st := queueStats(t, s, "cumul"); st.Messages != 2 || st.InFlight != 2 {
				t.Fatalf("after a cumulative ACK of the 3rd message: %+v, want 2 messages in flight", st)
			}
			c.close()

			sub2 := dial(t, s).subscribe("/queue/cumul", stompc.AckAuto)
			for _, want := range []string{"m-3", "m-4"} {
				m := recv(t, sub2)
				if string(m.Body) != want {
					t.Fatalf("redelivered %q, want %q", m.Body, want)
				}
				wantHeader(t, m, "redelivered", "true")
			}
		})
	}
}

// TestClientIndividualAck checks ack:client-individual: an ACK settles only
// the message it names (spec "SUBSCRIBE ack Header").
func TestClientIndividualAck(t *testing.T) {
	for _, v := range []stompc.Version{stompc.V11, stompc.V12} {
		t.Run("STOMP "+string(v), func(t *testing.T) {
			s := startBroker(t, nil)
			producer := dial(t, s)
			for _, b := range seqBodies("m", 3) {
				producer.send("/queue/indiv", b)
			}
			c := dial(t, s, stompc.ConnOpt.AcceptVersion(v))
			sub := c.subscribe("/queue/indiv", stompc.AckClientIndividual)
			msgs := []*stompc.Message{recv(t, sub), recv(t, sub), recv(t, sub)}
			if err := c.Ack(msgs[1]); err != nil {
				t.Fatal(err)
			}
			c.sync()
			if st := queueStats(t, s, "indiv"); st.Messages != 2 {
				t.Fatalf("after ACKing the 2nd of 3: %+v, want 2 left", st)
			}
			c.close()
			sub2 := dial(t, s).subscribe("/queue/indiv", stompc.AckAuto)
			sameStrings(t, "redelivered", recvBodies(t, sub2, 2), []string{"m-0", "m-2"})
		})
	}
}

// TestDeadLetterAfterMaxDeliveryAttempts sets max-delivery-attempts: 3 and
// NACKs a message three times: it moves to the DLQ with Artemis'
// _AMQ_ORIG_ADDRESS header and is not delivered again.
func TestDeadLetterAfterMaxDeliveryAttempts(t *testing.T) {
	s := startBroker(t, map[string]*core.AddressSettings{
		"dlq.test": {MaxDeliveryAttempts: ptr(3)},
	})
	c := dial(t, s)
	sub := c.subscribe("/queue/dlq.test", stompc.AckClientIndividual)
	dlq := dial(t, s).subscribe("/queue/DLQ", stompc.AckAuto)
	dial(t, s).send("/queue/dlq.test", "poison")
	for attempt := 1; attempt <= 3; attempt++ {
		m := recv(t, sub)
		wantHeader(t, m, "delivery-count", strconv.Itoa(attempt))
		if err := c.Nack(m); err != nil {
			t.Fatal(err)
		}
	}
	m := recv(t, dlq)
	if string(m.Body) != "poison" {
		t.Fatalf("DLQ got %q", m.Body)
	}
	wantHeader(t, m, core.PropOrigAddress, "dlq.test")
	wantHeader(t, m, core.PropOrigQueue, "dlq.test")
	if st := queueStats(t, s, "dlq.test"); st.Messages != 0 || st.DeadLettered != 1 {
		t.Fatalf("original queue after dead-lettering: %+v", st)
	}
	// Nothing more comes to the original consumer.
	dial(t, s).send("/queue/dlq.test", "marker")
	expectOnly(t, sub, "marker")
}

// TestExpiredNeverDelivered checks the expires header: a message whose
// expiry has passed is never delivered and goes to the ExpiryQueue with
// _AMQ_ORIG_ADDRESS.
func TestExpiredNeverDelivered(t *testing.T) {
	t.Run("expires in the past", func(t *testing.T) {
		s := startBroker(t, nil)
		producer := dial(t, s)
		past := time.Now().Add(-time.Minute).UnixMilli()
		producer.send("/queue/exp", "stale", "expires", strconv.FormatInt(past, 10))
		producer.send("/queue/exp", "fresh")
		sub := dial(t, s).subscribe("/queue/exp", stompc.AckAuto)
		expectOnly(t, sub, "fresh")
		m := recv(t, dial(t, s).subscribe("/queue/ExpiryQueue", stompc.AckAuto))
		if string(m.Body) != "stale" {
			t.Fatalf("ExpiryQueue got %q", m.Body)
		}
		wantHeader(t, m, core.PropOrigAddress, "exp")
	})
	t.Run("short expiry while queued", func(t *testing.T) {
		s := startBroker(t, nil)
		producer := dial(t, s)
		soon := time.Now().Add(200 * time.Millisecond).UnixMilli()
		producer.send("/queue/exp2", "short-lived", "expires", strconv.FormatInt(soon, 10))
		// The reaper moves it once it expires (it sweeps every second).
		m := recv(t, dial(t, s).subscribe("/queue/ExpiryQueue", stompc.AckAuto))
		if string(m.Body) != "short-lived" {
			t.Fatalf("ExpiryQueue got %q", m.Body)
		}
		if now := time.Now().UnixMilli(); now < soon {
			t.Fatalf("message expired %d ms before its expiry", soon-now)
		}
		wantHeader(t, m, core.PropOrigAddress, "exp2")
		sub := dial(t, s).subscribe("/queue/exp2", stompc.AckAuto)
		producer.send("/queue/exp2", "marker")
		expectOnly(t, sub, "marker")
	})
}

// TestTransactionAbort checks that ABORT discards the transaction's sends and
// returns the messages it acknowledged (spec "ABORT").
func TestTransactionAbort(t *testing.T) {
	s := startBroker(t, nil)
	dial(t, s).send("/queue/tx.in", "work")
	c := dial(t, s)
	in := c.subscribe("/queue/tx.in", stompc.AckClientIndividual)
	out := dial(t, s).subscribe("/queue/tx.out", stompc.AckAuto)

	m := recv(t, in)
	tx, err := c.BeginWithError()
	if err != nil {
		t.Fatal(err)
	}
	if err := tx.Send("/queue/tx.out", "text/plain", []byte("result")); err != nil {
		t.Fatal(err)
	}
	if err := tx.Ack(m); err != nil {
		t.Fatal(err)
	}
	if err := tx.AbortWithReceipt(); err != nil {
		t.Fatal(err)
	}
	// The acked message comes back, as a redelivery.
	again := recv(t, in)
	if string(again.Body) != "work" {
		t.Fatalf("after ABORT got %q", again.Body)
	}
	wantHeader(t, again, "redelivered", "true")
	// The send was discarded: the next thing on tx.out is the marker.
	dial(t, s).send("/queue/tx.out", "marker")
	expectOnly(t, out, "marker")
}

// TestTransactionCommit checks that a transaction's sends and acks take
// effect at COMMIT and not before (spec "BEGIN", "COMMIT").
func TestTransactionCommit(t *testing.T) {
	s := startBroker(t, nil)
	dial(t, s).send("/queue/txc.in", "work")
	c := dial(t, s)
	in := c.subscribe("/queue/txc.in", stompc.AckClientIndividual)
	out := dial(t, s).subscribe("/queue/txc.out", stompc.AckAuto)

	m := recv(t, in)
	tx, err := c.BeginWithError()
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range []string{"r1", "r2"} {
		if err := tx.Send("/queue/txc.out", "text/plain", []byte(b)); err != nil {
			t.Fatal(err)
		}
	}
	if err := tx.Ack(m); err != nil {
		t.Fatal(err)
	}
	c.sync()
	if st := queueStats(t, s, "txc.out"); st.Enqueued != 0 {
		t.Fatalf("transactional sends visible before COMMIT: %+v", st)
	}
	if st := queueStats(t, s, "txc.in"); st.InFlight != 1 {
		t.Fatalf("transactional ACK settled before COMMIT: %+v", st)
	}
	if err := tx.CommitWithReceipt(); err != nil {
		t.Fatal(err)
	}
	sameStrings(t, "committed sends", recvBodies(t, out, 2), []string{"r1", "r2"})
	if st := queueStats(t, s, "txc.in"); st.Messages != 0 {
		t.Fatalf("acked message still held after COMMIT: %+v", st)
	}
}

// TestPrefetchHeader checks ActiveMQ's activemq.prefetchSize on a client-ack
// subscription: at most that many messages are unacknowledged at once.
func TestPrefetchHeader(t *testing.T) {
	s := startBroker(t, nil)
	producer := dial(t, s)
	for _, b := range seqBodies("m", 5) {
		producer.send("/queue/prefetch", b)
	}
	r := dialRaw(t, s.Addr("stomp"))
	r.connect()
	r.frame("SUBSCRIBE", "", "id", "s", "destination", "/queue/prefetch", "ack", "client-individual", "activemq.prefetchSize", "2")
	m0, m1 := r.expect("MESSAGE"), r.expect("MESSAGE")
	// The next frame is this probe's receipt, not a third message.
	r.frame("BEGIN", "", "transaction", "probe", "receipt", "probe")
	r.expect("RECEIPT")
	if st := queueStats(t, s, "prefetch"); st.InFlight != 2 || st.Ready != 3 {
		t.Fatalf("with prefetch 2: %+v", st)
	}
	if string(m0.Body) != "m-0" || string(m1.Body) != "m-1" {
		t.Fatalf("got %q, %q", m0.Body, m1.Body)
	}
	ack, _ := m1.Get("ack")
	r.frame("ACK", "", "id", ack)
	if m := r.expect("MESSAGE"); string(m.Body) != "m-2" {
		t.Fatalf("after one ACK got %q, want m-2", m.Body)
	}
}

// TestUnackedReturnOnConnectionLoss drops a client-ack connection without
// DISCONNECT: what it had not acknowledged goes to the next consumer,
// marked redelivered (spec "SUBSCRIBE ack Header": "If the connection fails
// before a ACK frame is sent for the message the server will assume the
// message has not been processed").
func TestUnackedReturnOnConnectionLoss(t *testing.T) {
	s := startBroker(t, nil)
	dial(t, s).send("/queue/lost", "unacked")
	r := dialRaw(t, s.Addr("stomp"))
	r.connect()
	r.frame("SUBSCRIBE", "", "id", "s", "destination", "/queue/lost", "ack", "client")
	r.expect("MESSAGE")
	r.nc.Close()

	m := recv(t, dial(t, s).subscribe("/queue/lost", stompc.AckAuto))
	if string(m.Body) != "unacked" {
		t.Fatalf("got %q", m.Body)
	}
	wantHeader(t, m, "redelivered", "true")
	wantHeader(t, m, "delivery-count", "2")
}
