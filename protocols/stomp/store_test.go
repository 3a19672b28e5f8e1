package stomp_test

import (
	"strings"
	"testing"

	stompc "github.com/go-stomp/stomp/v3"

	"github.com/junctionmq/junction/config"
	"github.com/junctionmq/junction/core"
	"github.com/junctionmq/junction/protocols/stomp/frame"
	"github.com/junctionmq/junction/server/servertest"
	"github.com/junctionmq/junction/storage"
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

// An ACK with a receipt is confirmed only once the store has it. One the
// store fails gets an ERROR carrying the receipt id, and the message is not
// lost: it comes back to another consumer.
func TestAckNotStoredGetsError(t *testing.T) {
	store := faulty.Wrap(memory.New())
	s := servertest.Start(t, servertest.Options{Store: store})
	c := dial(t, s)
	c.send("/queue/acks", "kept", "persistent", "true")

	r := dialRaw(t, s.Addr("stomp"))
	r.connect()
	r.frame(frame.CmdSubscribe, "", frame.HdrDestination, "/queue/acks", frame.HdrID, "s1", frame.HdrAck, "client-individual")
	m := r.expect(frame.CmdMessage)
	ackID, _ := m.Get(frame.HdrAck)
	store.Set(faulty.OnKind(storage.OpAck))
	r.frame(frame.CmdAck, "", frame.HdrID, ackID, frame.HdrReceipt, "a1")
	f := r.expectError()
	if id, _ := f.Get(frame.HdrReceiptID); id != "a1" {
		t.Errorf("ERROR receipt-id %q, want a1", id)
	}
	if msg, _ := f.Get(frame.HdrMessage); !strings.Contains(msg, "not stored") {
		t.Errorf("ERROR message %q does not say the ack was not stored", msg)
	}
	store.Set(nil)

	sub := c.subscribe("/queue/acks", stompc.AckClientIndividual)
	back := recv(t, sub)
	if string(back.Body) != "kept" {
		t.Fatalf("got %q back, want the message whose ack failed", back.Body)
	}
	// Once the store writes, the ACK's receipt comes.
	if err := c.Ack(back); err != nil {
		t.Fatal(err)
	}
	r2 := dialRaw(t, s.Addr("stomp"))
	r2.connect()
	c.send("/queue/acks2", "two", "persistent", "true")
	r2.frame(frame.CmdSubscribe, "", frame.HdrDestination, "/queue/acks2", frame.HdrID, "s2", frame.HdrAck, "client")
	m2 := r2.expect(frame.CmdMessage)
	ackID2, _ := m2.Get(frame.HdrAck)
	r2.frame(frame.CmdAck, "", frame.HdrID, ackID2, frame.HdrReceipt, "a2")
	if id, _ := r2.expect(frame.CmdReceipt).Get(frame.HdrReceiptID); id != "a2" {
		t.Errorf("RECEIPT %q, want a2", id)
	}
	if n := queueStats(t, s, "acks2").Messages; n != 0 {
		t.Errorf("queue holds %d messages after a stored ack", n)
	}
}

// A durable subscription is not created, and its SUBSCRIBE not confirmed,
// while the store cannot write; an existing one can still be consumed from.
func TestDurableSubscribeWhileStoreBroken(t *testing.T) {
	store := faulty.Wrap(memory.New())
	s := servertest.Start(t, servertest.Options{Store: store})
	r := dialRaw(t, s.Addr("stomp"))
	r.connect("client-id", "c1")
	r.frame(frame.CmdSubscribe, "", frame.HdrDestination, "/topic/news", frame.HdrID, "s1",
		"activemq.subscriptionName", "old", frame.HdrReceipt, "r1")
	r.expect(frame.CmdReceipt)
	r.frame(frame.CmdDisconnect, "", frame.HdrReceipt, "bye")
	r.expect(frame.CmdReceipt)

	store.Break(nil)
	defer store.Heal()
	r = dialRaw(t, s.Addr("stomp"))
	r.connect("client-id", "c1")
	r.frame(frame.CmdSubscribe, "", frame.HdrDestination, "/topic/news", frame.HdrID, "s2",
		"activemq.subscriptionName", "new", frame.HdrReceipt, "r2")
	f := r.expectError()
	if id, _ := f.Get(frame.HdrReceiptID); id != "r2" {
		t.Errorf("ERROR receipt-id %q, want r2", id)
	}
	if msg, _ := f.Get(frame.HdrMessage); !strings.Contains(msg, "store unavailable") {
		t.Errorf("ERROR message %q does not say the store is unavailable", msg)
	}
	if _, ok := s.Core.Queue(core.SubscriptionQueueName("c1", "new")); ok {
		t.Error("the refused durable subscription exists")
	}
	r = dialRaw(t, s.Addr("stomp"))
	r.connect("client-id", "c1")
	r.frame(frame.CmdSubscribe, "", frame.HdrDestination, "/topic/news", frame.HdrID, "s3",
		"activemq.subscriptionName", "old", frame.HdrReceipt, "r3")
	r.expect(frame.CmdReceipt)
	store.Heal()

	// The store fails the record's write while it reports itself healthy:
	// the receipt waits for the write, so an ERROR replaces it.
	store.Set(faulty.OnKind(storage.OpPutBinding))
	defer store.Set(nil)
	r = dialRaw(t, s.Addr("stomp"))
	r.connect("client-id", "c2")
	r.frame(frame.CmdSubscribe, "", frame.HdrDestination, "/topic/news", frame.HdrID, "s4",
		"activemq.subscriptionName", "racy", frame.HdrReceipt, "r4")
	f = r.expectError()
	if id, _ := f.Get(frame.HdrReceiptID); id != "r4" {
		t.Errorf("ERROR receipt-id %q, want r4", id)
	}
	if msg, _ := f.Get(frame.HdrMessage); !strings.Contains(msg, "subscription not stored") {
		t.Errorf("ERROR message %q", msg)
	}
}
