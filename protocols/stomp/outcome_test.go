package stomp_test

import (
	"strconv"
	"strings"
	"testing"

	stompc "github.com/go-stomp/stomp/v3"

	"github.com/junctionmq/junction/core"
)

// TestNackInTransaction: a NACK with a transaction header takes effect at
// COMMIT; ABORT discards it and the message stays with the consumer, which
// may still settle it (spec "NACK": "transaction" header).
func TestNackInTransaction(t *testing.T) {
	s := startBroker(t, map[string]*core.AddressSettings{"nacktx": {MaxDeliveryAttempts: ptr(1)}})
	dial(t, s).send("/queue/nacktx", "poison")
	c := dial(t, s)
	sub := c.subscribe("/queue/nacktx", stompc.AckClientIndividual)
	dlq := dial(t, s).subscribe("/queue/DLQ", stompc.AckAuto)
	m := recv(t, sub)

	tx, err := c.BeginWithError()
	if err != nil {
		t.Fatal(err)
	}
	if err := tx.Nack(m); err != nil {
		t.Fatal(err)
	}
	c.sync()
	if st := queueStats(t, s, "nacktx"); st.InFlight != 1 || st.DeadLettered != 0 {
		t.Fatalf("NACK in an open transaction took effect: %+v", st)
	}
	if err := tx.AbortWithReceipt(); err != nil {
		t.Fatal(err)
	}
	if st := queueStats(t, s, "nacktx"); st.InFlight != 1 || st.Messages != 1 {
		t.Fatalf("after ABORT the message is not with its consumer: %+v", st)
	}

	tx, err = c.BeginWithError()
	if err != nil {
		t.Fatal(err)
	}
	if err := tx.Nack(m); err != nil {
		t.Fatal(err)
	}
	c.sync()
	if st := queueStats(t, s, "nacktx"); st.InFlight != 1 {
		t.Fatalf("second NACK took effect before COMMIT: %+v", st)
	}
	if err := tx.CommitWithReceipt(); err != nil {
		t.Fatal(err)
	}
	d := recv(t, dlq)
	if string(d.Body) != "poison" {
		t.Fatalf("DLQ got %q", d.Body)
	}
	wantHeader(t, d, core.PropDLQReason, "max-delivery-attempts 1 reached")
	if st := queueStats(t, s, "nacktx"); st.Messages != 0 || st.DeadLettered != 1 {
		t.Fatalf("after COMMIT: %+v", st)
	}
	// The ABORTed NACK never counted: nothing else reached the DLQ.
	dial(t, s).send("/queue/DLQ", "marker")
	expectOnly(t, dlq, "marker")
}

// TestRejectReasonOnDeadLetter: the reason and error condition a consumer
// rejects with (AMQP rejected, through the core) reach a STOMP consumer of
// the dead-letter queue as headers.
func TestRejectReasonOnDeadLetter(t *testing.T) {
	s := startBroker(t, nil)
	dial(t, s).send("/queue/rej", "malformed")
	sess := s.Core.NewSession(core.SessionOptions{})
	defer sess.Close()
	got := make(chan core.Delivery, 1)
	cons, err := sess.Consume("rej", core.ConsumerOptions{Credit: 1, Handler: func(d core.Delivery) { got <- d }})
	if err != nil {
		t.Fatal(err)
	}
	d := <-got
	if err := cons.Settle(d.Tag, core.Outcome{Kind: core.Rejected, Reason: "missing field id", Condition: "amqp:decode-error"}); err != nil {
		t.Fatal(err)
	}
	m := recv(t, dial(t, s).subscribe("/queue/DLQ", stompc.AckAuto))
	if string(m.Body) != "malformed" {
		t.Fatalf("DLQ got %q", m.Body)
	}
	wantHeader(t, m, core.PropDLQReason, "missing field id")
	wantHeader(t, m, core.PropDLQCondition, "amqp:decode-error")
	wantHeader(t, m, core.PropOrigQueue, "rej")
}

// TestDeadLetterRefusedByFullDLQ: a dead-letter queue that is full with
// address-full-policy FAIL refuses the copy, and the message stays in its
// queue instead of being lost.
func TestDeadLetterRefusedByFullDLQ(t *testing.T) {
	s := startBroker(t, map[string]*core.AddressSettings{
		"full.work": {MaxDeliveryAttempts: ptr(1)},
		"DLQ":       {MaxSizeBytes: ptr(core.ByteSize(1200)), AddressFullPolicy: ptr("FAIL")},
	})
	dial(t, s).send("/queue/DLQ", strings.Repeat("x", 700))
	dial(t, s).send("/queue/full.work", strings.Repeat("y", 700))
	c := dial(t, s)
	sub := c.subscribe("/queue/full.work", stompc.AckClientIndividual)
	if err := c.Nack(recv(t, sub)); err != nil {
		t.Fatal(err)
	}
	c.sync()
	if st := queueStats(t, s, "full.work"); st.Messages != 1 || st.DeadLettered != 0 {
		t.Fatalf("source after the refused move: %+v", st)
	}
	if st := queueStats(t, s, "DLQ"); st.Messages != 1 {
		t.Fatalf("DLQ after the refused move: %+v", st)
	}
	// Once the DLQ has room, the message, delivered again, gets there.
	dlq := dial(t, s).subscribe("/queue/DLQ", stompc.AckAuto)
	if m := recv(t, dlq); len(m.Body) != 700 || m.Body[0] != 'x' {
		t.Fatalf("DLQ filler %q", m.Body)
	}
	m := recv(t, sub)
	if err := c.Nack(m); err != nil {
		t.Fatal(err)
	}
	if d := recv(t, dlq); len(d.Body) != 700 || d.Body[0] != 'y' {
		t.Fatalf("DLQ got %q", d.Body)
	}
}

// TestOpenTransactionsBounded: a connection cannot open transactions without
// end (each holds its work in memory until COMMIT or ABORT); past the limit
// BEGIN gets an ERROR and only that connection closes.
func TestOpenTransactionsBounded(t *testing.T) {
	s := startBroker(t, nil)
	r := dialRaw(t, s.Addr("stomp"))
	r.connect()
	for i := range 256 {
		r.frame("BEGIN", "", "transaction", "t"+strconv.Itoa(i))
	}
	r.frame("BEGIN", "", "transaction", "t255b", "receipt", "last")
	f := r.expectError()
	if msg, _ := f.Get("message"); !strings.Contains(msg, "too many open transactions") {
		t.Fatalf("ERROR %q", msg)
	}
	dial(t, s).send("/queue/after", "still serving")
}

// TestNackInTransactionByMessageID: a STOMP 1.1 client names messages by
// message-id; after ABORT discards its NACK it can still ACK the message.
func TestNackInTransactionByMessageID(t *testing.T) {
	s := startBroker(t, nil)
	dial(t, s).send("/queue/nack11", "m")
	r := dialRaw(t, s.Addr("stomp"))
	r.connect("accept-version", "1.1")
	r.frame("SUBSCRIBE", "", "id", "s", "destination", "/queue/nack11", "ack", "client-individual")
	m := r.expect("MESSAGE")
	mid, _ := m.Get("message-id")
	r.frame("BEGIN", "", "transaction", "t")
	r.frame("NACK", "", "message-id", mid, "subscription", "s", "transaction", "t")
	r.frame("ABORT", "", "transaction", "t", "receipt", "aborted")
	r.expect("RECEIPT")
	r.frame("ACK", "", "message-id", mid, "subscription", "s", "receipt", "acked")
	if f := r.expect("RECEIPT"); f == nil {
		t.Fatal("no RECEIPT for the ACK")
	}
	if st := queueStats(t, s, "nack11"); st.Messages != 0 || st.Acked != 1 {
		t.Fatalf("after ABORT and ACK: %+v", st)
	}
}
