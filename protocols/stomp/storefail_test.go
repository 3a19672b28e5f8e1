package stomp_test

import (
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
