package stomp_test

import (
	"strings"
	"testing"

	stompc "github.com/go-stomp/stomp/v3"

	"github.com/junctionmq/junction/protocols/stomp/frame"
)

// Error paths of acknowledgements, subscriptions and transactions: each
// gets an ERROR naming the problem, closes only that connection, and
// changes nothing it should not.

// expectErrorMentioning reads the ERROR (and the close after it) and checks
// its message header.
func expectErrorMentioning(t *testing.T, r *rawConn, want string) {
	t.Helper()
	f := r.expectError()
	if msg, _ := f.Get(frame.HdrMessage); !strings.Contains(msg, want) {
		t.Fatalf("ERROR message %q does not mention %q", msg, want)
	}
}

// TestAckOfUnknownIDs: ACK or NACK of an id the connection never received,
// of a malformed id, or of one already acknowledged is an ERROR; the
// message actually in flight is not settled by it and goes back to the queue
// when the connection closes. Catches the mutation "a refused settlement
// (unknown delivery tag) is ignored" (no ERROR).
func TestAckOfUnknownIDs(t *testing.T) {
	s := startBroker(t, nil)
	for _, tc := range []struct{ name, cmd, id string }{
		{"ACK of a tag never delivered", "ACK", "+100"},
		{"NACK of a tag never delivered", "NACK", "+100"},
		{"ACK of a malformed id", "ACK", "not-an-id"},
		{"ACK of an unknown subscription", "ACK", "999.1"},
		{"second ACK of the same id", "ACK", "again"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dest := "/queue/ackerr." + strings.ReplaceAll(tc.name, " ", "-")
			dial(t, s).send(dest, "in flight", "persistent", "true")
			if tc.id == "again" {
				dial(t, s).send(dest, "second", "persistent", "true")
			}
			r := dialRaw(t, s.Addr("stomp"))
			r.connect()
			r.frame("SUBSCRIBE", "", "id", "s", "destination", dest, "ack", "client-individual")
			m := r.expect("MESSAGE")
			ackID, _ := m.Get(frame.HdrAck)
			id := tc.id
			switch {
			case id == "+100":
				num, _, _ := strings.Cut(ackID, ".")
				id = num + ".100"
			case id == "again":
				r.frame("ACK", "", "id", ackID, "receipt", "first")
				r.expectMessageAndReceipt("first") // "second", left in flight
				id = ackID
			}
			r.frame(tc.cmd, "", "id", id)
			expectErrorMentioning(t, r, "unknown")
			// The message in flight was not settled by the bad frame.
			c := dial(t, s)
			sub := c.subscribe(dest, stompc.AckAuto)
			want := "in flight"
			if tc.id == "again" {
				want = "second"
			}
			if got := recv(t, sub); string(got.Body) != want {
				t.Fatalf("after the refused %s: got %q, want %q back", tc.cmd, got.Body, want)
			}
		})
	}
}

// TestDuplicateSubscriptionID: a second SUBSCRIBE with an id in use on the
// connection is an ERROR (STOMP 1.2: the id identifies the subscription);
// silently replacing the first would strand its deliveries. Catches the
// mutation "no check for an id in use".
func TestDuplicateSubscriptionID(t *testing.T) {
	s := startBroker(t, nil)
	r := dialRaw(t, s.Addr("stomp"))
	r.connect()
	r.frame("SUBSCRIBE", "", "id", "1", "destination", "/queue/dup.a", "receipt", "one")
	r.expect("RECEIPT")
	r.frame("SUBSCRIBE", "", "id", "1", "destination", "/queue/dup.b")
	expectErrorMentioning(t, r, "already in use")
}

// TestBeginTwice: BEGIN of a transaction already open is an ERROR, and what
// the open transaction sent is discarded with the connection, never
// delivered. Catches the mutation "BEGIN replaces an open transaction" (no
// ERROR).
func TestBeginTwice(t *testing.T) {
	s := startBroker(t, nil)
	r := dialRaw(t, s.Addr("stomp"))
	r.connect()
	r.frame("BEGIN", "", "transaction", "t1")
	r.frame("SEND", "uncommitted", "destination", "/queue/begin.twice", "transaction", "t1")
	r.frame("BEGIN", "", "transaction", "t1")
	expectErrorMentioning(t, r, "already open")
	c := dial(t, s)
	c.send("/queue/begin.twice", "marker")
	expectOnly(t, c.subscribe("/queue/begin.twice", stompc.AckAuto), "marker")
}

// TestAbortOfUnknownTransaction: ABORT naming no open transaction is an
// ERROR. Catches the mutation "ABORT of an unknown transaction is ignored".
func TestAbortOfUnknownTransaction(t *testing.T) {
	s := startBroker(t, nil)
	r := dialRaw(t, s.Addr("stomp"))
	r.connect()
	r.frame("ABORT", "", "transaction", "never-begun", "receipt", "a")
	f := r.expectError()
	if msg, _ := f.Get(frame.HdrMessage); !strings.Contains(msg, "unknown transaction") {
		t.Fatalf("ERROR message %q", msg)
	}
	if id, _ := f.Get(frame.HdrReceiptID); id != "a" {
		t.Fatalf("ERROR receipt-id %q, want a", id)
	}
}

// TestClientAckInTransaction: with ack:client an ACK is cumulative, inside a
// transaction too. ACK of the second of three messages in a transaction
// settles nothing until COMMIT, which settles the first two; ABORT instead
// returns them. Catches the mutation "a transactional ACK in client mode
// acknowledges only the message it names" (the first would come back after
// the COMMIT).
func TestClientAckInTransaction(t *testing.T) {
	for _, end := range []string{"COMMIT", "ABORT"} {
		t.Run(end, func(t *testing.T) {
			s := startBroker(t, nil)
			dest := "/queue/txack." + end
			p := dial(t, s)
			for _, b := range []string{"m1", "m2", "m3"} {
				p.send(dest, b, "persistent", "true")
			}
			r := dialRaw(t, s.Addr("stomp"))
			r.connect()
			r.frame("SUBSCRIBE", "", "id", "s", "destination", dest, "ack", "client")
			var acks []string
			for range 3 {
				id, _ := r.expect("MESSAGE").Get(frame.HdrAck)
				acks = append(acks, id)
			}
			r.frame("BEGIN", "", "transaction", "t")
			r.frame("ACK", "", "id", acks[1], "transaction", "t", "receipt", "acked")
			r.expect("RECEIPT")
			q := queueStats(t, s, "txack."+end)
			if q.Acked != 0 || q.InFlight != 3 {
				t.Fatalf("before %s: %+v, want nothing settled", end, q)
			}
			r.frame(end, "", "transaction", "t", "receipt", "end")
			if end == "ABORT" {
				// The rolled-back messages come back to this subscription.
				got := map[string]bool{}
				for len(got) < 3 {
					f, err := r.read()
					if err != nil {
						t.Fatal(err)
					}
					switch f.Command {
					case "MESSAGE":
						got[string(f.Body)] = true
					case "RECEIPT":
						got["receipt"] = true
					default:
						t.Fatalf("unexpected %s", f.Command)
					}
				}
				if !got["m1"] || !got["m2"] {
					t.Fatalf("after ABORT got %v, want m1 and m2 redelivered", got)
				}
				return
			}
			r.expect("RECEIPT")
			if q := queueStats(t, s, "txack."+end); q.Acked != 2 || q.Messages != 1 {
				t.Fatalf("after COMMIT: %+v, want 2 acked and m3 left", q)
			}
		})
	}
}
