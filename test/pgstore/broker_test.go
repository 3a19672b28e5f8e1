// Package pgstore tests the broker on the PostgreSQL store, against a
// real PostgreSQL (internal/pgtest): persistent STOMP messages survive a
// restart, a PostgreSQL restart under load loses no confirmed message, a
// cut database connection refuses sends until it is back, and two broker
// processes share one store as live and backup.
package pgstore

import (
	"fmt"
	"sync"
	"testing"
	"time"

	stompc "github.com/go-stomp/stomp/v3"

	"github.com/junctionmq/junction/config"
	"github.com/junctionmq/junction/internal/pgtest"
	"github.com/junctionmq/junction/internal/testkit"
	"github.com/junctionmq/junction/server"
	"github.com/junctionmq/junction/server/servertest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

const waitFor = 20 * time.Second

func startBroker(t *testing.T, url string) *server.Server {
	t.Helper()
	return servertest.Start(t, servertest.Options{Config: func(c *config.Config) {
		c.Store.Type = "postgres"
		c.Store.URL = url
	}})
}

func dial(addr string) (*stompc.Conn, error) {
	return stompc.Dial("tcp", addr, stompc.ConnOpt.Logger(testkit.QuietLogger{}), stompc.ConnOpt.MsgSendTimeout(waitFor),
		stompc.ConnOpt.DisconnectReceiptTimeout(waitFor), stompc.ConnOpt.ReadChannelCapacity(4096))
}

func body(p, i int) string { return fmt.Sprintf("p%d-%06d", p, i) }

// drain receives at least count messages from dest, then the rest until
// none comes for half a second, and returns how often each body came.
func drain(t *testing.T, addr, dest string, count int) map[string]int {
	t.Helper()
	c, err := dial(addr)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	defer c.MustDisconnect()
	sub, err := c.Subscribe(dest, stompc.AckAuto)
	if err != nil {
		t.Fatalf("subscribe: %v", err)
	}
	seen := map[string]int{}
	for n := 0; n < count; n++ {
		select {
		case m := <-sub.C:
			if m.Err != nil {
				t.Fatalf("receiving: %v", m.Err)
			}
			seen[string(m.Body)]++
		case <-time.After(waitFor):
			t.Fatalf("received %d of %d messages", n, count)
		}
	}
	// Then what else is there: messages whose send failed after they were
	// stored (the connection died before the receipt) come too.
	for {
		select {
		case m := <-sub.C:
			if m.Err != nil {
				t.Fatalf("receiving: %v", m.Err)
			}
			seen[string(m.Body)]++
		case <-time.After(500 * time.Millisecond):
			return seen
		}
	}
}

func TestPersistentSurvivesRestart(t *testing.T) {
	url := pgtest.DB(t)
	s := startBroker(t, url)
	c, err := dial(s.Addr("stomp"))
	if err != nil {
		t.Fatal(err)
	}
	const n = 300
	for i := range n {
		if err := c.Send("/queue/keep", "text/plain", []byte(body(0, i)), stompc.SendOpt.Receipt,
			stompc.SendOpt.Header("persistent", "true")); err != nil {
			t.Fatalf("send %d: %v", i, err)
		}
	}
	// A non-persistent one is not stored.
	if err := c.Send("/queue/keep", "text/plain", []byte("transient"), stompc.SendOpt.Receipt); err != nil {
		t.Fatal(err)
	}
	c.MustDisconnect()
	if err := s.Shutdown(); err != nil {
		t.Fatalf("shutdown: %v", err)
	}

	s = startBroker(t, url)
	c, err = dial(s.Addr("stomp"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.MustDisconnect()
	sub, err := c.Subscribe("/queue/keep", stompc.AckAuto)
	if err != nil {
		t.Fatal(err)
	}
	for i := range n {
		m := testkit.RecvSTOMP(t, sub, waitFor)
		if got := string(m.Body); got != body(0, i) {
			t.Fatalf("message %d after the restart is %q, want %q (in order)", i, got, body(0, i))
		}
	}
	select {
	case m := <-sub.C:
		t.Fatalf("an extra message after the restart: %q", m.Body)
	case <-time.After(300 * time.Millisecond):
	}
}

// producer sends persistent messages with a receipt each, reconnecting
// after the ERROR a refused send ends its connection with, until stop is
// closed; it records what was confirmed.
type producer struct {
	num       int
	addr      string
	confirmed []int
	refused   int
}

func (p *producer) run(stop <-chan struct{}, dest string) {
	var c *stompc.Conn
	defer func() {
		if c != nil {
			_ = c.Disconnect()
		}
	}()
	for i := 0; ; i++ {
		select {
		case <-stop:
			return
		default:
		}
		if c == nil {
			var err error
			if c, err = dial(p.addr); err != nil {
				time.Sleep(20 * time.Millisecond) // the broker is up; this only paces retries
				continue
			}
		}
		err := c.Send(dest, "text/plain", []byte(body(p.num, i)), stompc.SendOpt.Receipt, stompc.SendOpt.Header("persistent", "true"))
		if err != nil {
			p.refused++
			c.MustDisconnect()
			c = nil
			continue
		}
		p.confirmed = append(p.confirmed, i)
	}
}

// TestPostgresRestartUnderLoad restarts PostgreSQL (pg_ctl restart) while
// producers send persistent messages: the sends in flight wait for the
// store's retry (or are refused, never confirmed unstored), the broker
// reconnects by itself, and every confirmed message is there.
func TestPostgresRestartUnderLoad(t *testing.T) {
	srv := pgtest.Get(t)
	url := pgtest.DB(t)
	s := startBroker(t, url)
	const producers = 4
	ps := make([]*producer, producers)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for i := range ps {
		ps[i] = &producer{num: i, addr: s.Addr("stomp")}
		wg.Add(1)
		go func() { defer wg.Done(); ps[i].run(stop, "/queue/load") }()
	}
	confirmed := func() int {
		n := 0
		for _, p := range ps {
			n += len(p.confirmed)
		}
		return n
	}
	waitConfirmed := func(n int) {
		t.Helper()
		deadline := time.Now().Add(waitFor)
		for s.Core.StoreStats().Applies < uint64(n) {
			if time.Now().After(deadline) {
				t.Fatalf("fewer than %d stored batches within %v", n, waitFor)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	waitConfirmed(300)
	if err := srv.Ctl("restart"); err != nil {
		t.Fatal(err)
	}
	before := s.Core.StoreStats().Applies
	waitConfirmed(int(before) + 300) // the broker carries on by itself
	close(stop)
	wg.Wait()
	total := confirmed()
	refused := 0
	for _, p := range ps {
		refused += p.refused
	}
	t.Logf("%d sends confirmed, %d refused while PostgreSQL restarted", total, refused)
	if err := s.Shutdown(); err != nil {
		t.Fatalf("shutdown: %v", err)
	}
	// A fresh broker finds every confirmed message (and perhaps some
	// refused ones whose commit did land: never fewer).
	s = startBroker(t, url)
	seen := drain(t, s.Addr("stomp"), "/queue/load", total)
	for _, p := range ps {
		for _, i := range p.confirmed {
			if seen[body(p.num, i)] == 0 {
				t.Errorf("confirmed message %s lost", body(p.num, i))
			}
		}
	}
}

// TestConnectionCut: while the broker cannot reach PostgreSQL a persistent
// send is refused with a STOMP ERROR; once the connection is back, sends
// are confirmed again, and nothing confirmed is lost.
func TestConnectionCut(t *testing.T) {
	srv := pgtest.Get(t)
	db := srv.NewDB(t)
	proxy := pgtest.NewProxy(t, srv.Addr())
	s := startBroker(t, srv.URL(proxy.Addr(), db))
	c, err := dial(s.Addr("stomp"))
	if err != nil {
		t.Fatal(err)
	}
	send := func(c *stompc.Conn, b string) error {
		return c.Send("/queue/cut", "text/plain", []byte(b), stompc.SendOpt.Receipt, stompc.SendOpt.Header("persistent", "true"))
	}
	if err := send(c, "before"); err != nil {
		t.Fatal(err)
	}
	proxy.Cut()
	deadline := time.Now().Add(waitFor)
	for s.Core.StoreHealth() == nil { // the store notices without traffic
		if time.Now().After(deadline) {
			t.Fatal("the broker did not notice the cut")
		}
		time.Sleep(10 * time.Millisecond)
	}
	err = send(c, "during")
	if err == nil {
		t.Fatal("a persistent send was confirmed while the database was cut off")
	}
	t.Logf("refused: %v", err)
	c.MustDisconnect()
	proxy.Heal()
	deadline = time.Now().Add(waitFor)
	for s.Core.StoreHealth() != nil {
		if time.Now().After(deadline) {
			t.Fatalf("the store did not resume: %v", s.Core.StoreHealth())
		}
		time.Sleep(10 * time.Millisecond)
	}
	c, err = dial(s.Addr("stomp"))
	if err != nil {
		t.Fatal(err)
	}
	if err := send(c, "after"); err != nil {
		t.Fatalf("send after the database came back: %v", err)
	}
	c.MustDisconnect()
	if err := s.Shutdown(); err != nil {
		t.Fatal(err)
	}
	s = startBroker(t, srv.URL("", db))
	seen := drain(t, s.Addr("stomp"), "/queue/cut", 2)
	if seen["before"] != 1 || seen["after"] != 1 || seen["during"] != 0 {
		t.Fatalf("after a restart the queue holds %v, want before and after", seen)
	}
}
