package core

import (
	"context"
	"slices"
	"testing"

	"github.com/junctionmq/junction/storage"
	"github.com/junctionmq/junction/storage/memory"
	"github.com/junctionmq/junction/storage/storetest"
)

func dupMsg(addr, body, id string) *Message {
	m := msg(addr, body)
	m.Durable = true
	if id != "" {
		m.SetProperty(PropDuplicateID, stringValue(id))
	}
	return m
}

func TestDuplicateCacheMadeOnFirstUse(t *testing.T) {
	b := newTestBroker(t, Config{})
	s := newSession(t, b, SessionOptions{})
	consume(t, s, "plain", ConsumerOptions{AutoAck: true})
	consume(t, s, "used", ConsumerOptions{AutoAck: true})
	send(t, s, dupMsg("plain", "x", ""))
	for range 2 {
		// An empty id is no id: neither recorded nor a duplicate.
		m := dupMsg("plain", "empty id", "")
		m.SetProperty(PropDuplicateID, stringValue(""))
		send(t, s, m)
	}
	for _, id := range []string{"a", "b", "c"} {
		send(t, s, dupMsg("used", id, id))
	}
	if n := b.Stats().Duplicates; n != 0 {
		t.Errorf("Duplicates = %d, want 0", n)
	}
	if d := b.lookupAddress("plain").dups.Load(); d != nil {
		t.Errorf("an address never sent a duplicate id has a cache of %d slots", cap(d.ring))
	}
	d := b.lookupAddress("used").dups.Load()
	if d == nil {
		t.Fatal("no cache after three ids")
	}
	if d.len() != 3 || len(d.ring) != 3 || d.max != 2000 {
		t.Errorf("cache holds %d ids in a ring of %d (max %d), want 3 in 3 (max 2000)", d.len(), len(d.ring), d.max)
	}
}

// storedDupIDs lists the duplicate-id records in a memory store.
func storedDupIDs(t *testing.T, store *memory.Store) []string {
	t.Helper()
	var rec storetest.Recorder
	if err := store.Load(context.Background(), &rec); err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range rec.Events {
		if e.Kind == "binding" && e.Binding == storage.BindingDuplicateID {
			addr, id, ok := parseDupKey(e.Key)
			if !ok {
				t.Fatalf("malformed key %q", e.Key)
			}
			out = append(out, addr+"/"+id)
		}
	}
	slices.Sort(out)
	return out
}

func TestDuplicateIDsSurviveRestart(t *testing.T) {
	store := memory.New()
	cfg := Config{Store: store, AddressSettings: settings("dup.#", &AddressSettings{DuplicateIDCacheSize: ptr(2)})}
	b := newTestBroker(t, cfg)
	s := b.NewSession(SessionOptions{})
	_, col := consume(t, s, "dup.q", ConsumerOptions{AutoAck: true})
	// "n" is non-durable and is not stored, so neither is its id; "n" and
	// "a" leave the two-id window as "b" and "c" arrive.
	nd := dupMsg("dup.q", "n", "n")
	nd.Durable = false
	send(t, s, nd)
	for _, id := range []string{"a", "b", "c"} {
		send(t, s, dupMsg("dup.q", id, id))
	}
	if got := bodies(col.take(t, 4)); !slices.Equal(got, []string{"n", "a", "b", "c"}) {
		t.Fatalf("delivered %v", got)
	}
	s.Close()
	// The messages were consumed: only the id records are left.
	if got, want := storedDupIDs(t, store), []string{"dup.q/b", "dup.q/c"}; !slices.Equal(got, want) {
		t.Fatalf("stored ids %v, want %v", got, want)
	}

	cfg.Store = store
	b2, _ := restartWith(t, b, store, cfg)
	s2 := newSession(t, b2, SessionOptions{})
	_, col2 := consume(t, s2, "dup.q", ConsumerOptions{AutoAck: true})
	for _, id := range []string{"c", "b", "a", "n"} {
		send(t, s2, dupMsg("dup.q", "again "+id, id))
	}
	if got := bodies(col2.take(t, 2)); !slices.Equal(got, []string{"again a", "again n"}) {
		t.Fatalf("after restart delivered %v, want the ids that were not remembered", got)
	}
	col2.none(t)
	if st := b2.Stats(); st.Duplicates != 2 {
		t.Errorf("Duplicates = %d, want 2", st.Duplicates)
	}
}

func TestDuplicateIDsTrimmedToSmallerCache(t *testing.T) {
	store := memory.New()
	cfg := Config{Store: store, AddressSettings: settings("dup.#", &AddressSettings{DuplicateIDCacheSize: ptr(3)})}
	b := newTestBroker(t, cfg)
	s := b.NewSession(SessionOptions{})
	consume(t, s, "dup.q", ConsumerOptions{AutoAck: true})
	for _, id := range []string{"a", "b", "c"} {
		send(t, s, dupMsg("dup.q", id, id))
	}
	s.Close()
	cfg.AddressSettings = settings("dup.#", &AddressSettings{DuplicateIDCacheSize: ptr(1)})
	b2, _ := restartWith(t, b, store, cfg)
	if d := b2.lookupAddress("dup.q").dups.Load(); d == nil || d.len() != 1 || !d.contains("c") {
		t.Fatal("the recovered cache does not hold exactly the newest id")
	}
	if err := b2.Close(); err != nil {
		t.Fatal(err)
	}
	if got := storedDupIDs(t, store); !slices.Equal(got, []string{"dup.q/c"}) {
		t.Fatalf("stored ids after trimming: %v", got)
	}
}

// restartWith closes b and starts a broker with cfg on the same memory store.
func restartWith(t *testing.T, b *Broker, store *memory.Store, cfg Config) (*Broker, RecoveryStats) {
	t.Helper()
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	store.Reopen()
	cfg.Store = store
	nb := newTestBroker(t, cfg)
	return nb, RecoveryStats{}
}
