package stomp_test

import (
	"strings"
	"testing"

	stompc "github.com/go-stomp/stomp/v3"

	"github.com/junctionmq/junction/config"
	"github.com/junctionmq/junction/protocols/stomp/frame"
	"github.com/junctionmq/junction/server/servertest"
	"github.com/junctionmq/junction/storage/faulty"
	"github.com/junctionmq/junction/storage/memory"
)

// A persistent SEND the store could not write gets an ERROR carrying its
// receipt id and never a RECEIPT: the client must not believe it stored.
func TestSendNotStoredGetsNoReceipt(t *testing.T) {
	store := faulty.Wrap(memory.New())
	s := servertest.Start(t, servertest.Options{Store: store})

	t.Run("store failed before the send", func(t *testing.T) {
		store.Break(nil)
		defer store.Heal()
		r := dialRaw(t, s.Addr("stomp"))
		r.connect()
		r.frame(frame.CmdSend, "lost", frame.HdrDestination, "/queue/broken", "persistent", "true", frame.HdrReceipt, "r1")
		f := r.expectError()
		if id, _ := f.Get(frame.HdrReceiptID); id != "r1" {
			t.Errorf("ERROR receipt-id %q, want r1", id)
		}
		if msg, _ := f.Get(frame.HdrMessage); !strings.Contains(msg, "store unavailable") {
			t.Errorf("ERROR message %q does not say the store is unavailable", msg)
		}
		if q, ok := s.Core.Queue("broken"); ok && q.Stats().Messages != 0 {
			t.Errorf("the refused message is in the queue")
		}
		// go-stomp sees the refusal as a failed send.
		c := dial(t, s)
		if err := c.Send("/queue/broken", "text/plain", []byte("lost"), sendOpts(true, "persistent", "true")...); err == nil {
			t.Error("go-stomp: a send the store refused was confirmed")
		}
		// The server closed the connection after its ERROR.
		_ = c.MustDisconnect()
	})

	t.Run("the store fails the write", func(t *testing.T) {
		store.Set(faulty.SyncOnly())
		defer store.Set(nil)
		r := dialRaw(t, s.Addr("stomp"))
		r.connect()
		r.frame(frame.CmdSend, "lost", frame.HdrDestination, "/queue/failing", "persistent", "true", frame.HdrReceipt, "r2")
		f := r.expectError()
		if id, _ := f.Get(frame.HdrReceiptID); id != "r2" {
			t.Errorf("ERROR receipt-id %q, want r2", id)
		}
	})

	t.Run("healed", func(t *testing.T) {
		c := dial(t, s)
		c.send("/queue/healed", "kept", "persistent", "true")
		if n := queueStats(t, s, "healed").Messages; n != 1 {
			t.Fatalf("queue holds %d messages, want 1", n)
		}
	})
}

// A duplicate id outlives a restart on the same journal.
func TestDuplicateIDAcrossRestart(t *testing.T) {
	dir := t.TempDir()
	journal := func(c *config.Config) {
		c.Store.Type = "journal"
		c.Data = dir
	}
	s := servertest.Start(t, servertest.Options{Config: journal})
	c := dial(t, s)
	c.send("/queue/orders", "first", "persistent", "true", "_AMQ_DUPL_ID", "order-1")
	sub := c.subscribe("/queue/orders", stompc.AckClientIndividual)
	m := recv(t, sub)
	if string(m.Body) != "first" {
		t.Fatalf("got %q", m.Body)
	}
	if err := c.Ack(m); err != nil {
		t.Fatal(err)
	}
	c.sync()
	c.close()
	if err := s.Shutdown(); err != nil {
		t.Fatal(err)
	}

	s = servertest.Start(t, servertest.Options{Config: journal})
	c = dial(t, s)
	c.send("/queue/orders", "again", "persistent", "true", "_AMQ_DUPL_ID", "order-1")
	c.send("/queue/orders", "second", "persistent", "true", "_AMQ_DUPL_ID", "order-2")
	sub = c.subscribe("/queue/orders", stompc.AckAuto)
	expectOnly(t, sub, "second")
	if st := s.Core.Stats(); st.Duplicates != 1 {
		t.Errorf("Duplicates = %d, want 1", st.Duplicates)
	}
}
