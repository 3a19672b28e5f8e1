package stomp_test

import (
	"strings"
	"testing"

	stompc "github.com/go-stomp/stomp/v3"

	"github.com/junctionmq/junction/protocols/stomp/frame"
	"github.com/junctionmq/junction/server"
	"github.com/junctionmq/junction/server/servertest"
	"github.com/junctionmq/junction/storage/faulty"
	"github.com/junctionmq/junction/storage/memory"
)

func failingBroker(t *testing.T) (*server.Server, *faulty.Store) {
	t.Helper()
	fs := faulty.Wrap(memory.New())
	return servertest.Start(t, servertest.Options{Store: fs}), fs
}

// TestSendNotStoredGetsNoReceipt: a persistent SEND the store refuses is
// answered with an ERROR naming its receipt, never a RECEIPT; go-stomp's
// Send reports it. Catches the mutation "the send's completion sends the
// RECEIPT whatever the store answered".
func TestSendNotStoredGetsNoReceipt(t *testing.T) {
	s, fs := failingBroker(t)
	c := dial(t, s)
	c.send("/queue/q", "stored", "persistent", "true")
	fs.Set(faulty.SyncOnly())
	err := c.Send("/queue/q", "text/plain", []byte("not stored"), sendOpts(true, "persistent", "true")...)
	if err == nil {
		t.Fatal("go-stomp got a RECEIPT for a SEND the store refused")
	}

	r := dialRaw(t, s.Addr("stomp"))
	r.connect()
	r.frame("SEND", "not stored", "destination", "/queue/q", "persistent", "true", "receipt", "r1")
	f := r.expectError()
	if id, _ := f.Get(frame.HdrReceiptID); id != "r1" {
		t.Fatalf("ERROR receipt-id %q, want r1", id)
	}
	if msg, _ := f.Get(frame.HdrMessage); !strings.Contains(msg, "not stored") {
		t.Fatalf("ERROR message %q", msg)
	}
}

// TestCommitNotStoredGetsNoReceipt: a COMMIT whose batch the store refuses
// is answered with an ERROR, not a RECEIPT. Catches the mutation "the
// commit's completion sends the RECEIPT whatever the store answered".
func TestCommitNotStoredGetsNoReceipt(t *testing.T) {
	s, fs := failingBroker(t)
	c := dial(t, s)
	tx, err := c.BeginWithError()
	if err != nil {
		t.Fatal(err)
	}
	if err := tx.Send("/queue/q", "text/plain", []byte("in tx"), stompc.SendOpt.Header("persistent", "true")); err != nil {
		t.Fatal(err)
	}
	fs.Set(faulty.SyncOnly())
	if err := tx.CommitWithReceipt(); err == nil {
		t.Fatal("go-stomp got a RECEIPT for a COMMIT the store refused")
	}

	r := dialRaw(t, s.Addr("stomp"))
	r.connect()
	r.frame("BEGIN", "", "transaction", "t1")
	r.frame("SEND", "in tx", "destination", "/queue/q", "persistent", "true", "transaction", "t1")
	r.frame("COMMIT", "", "transaction", "t1", "receipt", "c1")
	f := r.expectError()
	if id, _ := f.Get(frame.HdrReceiptID); id != "c1" {
		t.Fatalf("ERROR receipt-id %q, want c1", id)
	}
}
