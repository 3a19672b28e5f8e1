package stomp_test

import (
	"strconv"
	"testing"

	stompc "github.com/go-stomp/stomp/v3"

	"github.com/junctionmq/junction/config"
	"github.com/junctionmq/junction/server"
	"github.com/junctionmq/junction/server/servertest"
	"github.com/junctionmq/junction/storage/memory"
)

// TestRedeliveryCountSurvivesRestart: a persistent message NACKed three
// times, then held by a consumer that disconnects (a fourth failed
// delivery), comes back after a restart with delivery-count 5, on the memory
// store and on the journal. Catches the mutation "the stored delivery count
// is always 1" (redeliverLocked's OpUpdateRef), which every earlier test let
// through: the count after the restart would be 2.
func TestRedeliveryCountSurvivesRestart(t *testing.T) {
	t.Run("memory store", func(t *testing.T) {
		store := memory.New()
		testCountRestart(t, func() *server.Server { return servertest.Start(t, servertest.Options{Store: store}) }, store.Reopen)
	})
	t.Run("journal", func(t *testing.T) {
		dir := t.TempDir()
		cfg := func(c *config.Config) { c.Store.Type, c.Data = "journal", dir }
		testCountRestart(t, func() *server.Server { return servertest.Start(t, servertest.Options{Config: cfg}) }, func() {})
	})
}

func testCountRestart(t *testing.T, start func() *server.Server, reopen func()) {
	s1 := start()
	c := dial(t, s1)
	c.send("/queue/counted", "again and again", "persistent", "true")
	sub := c.subscribe("/queue/counted", stompc.AckClientIndividual)
	for want := 1; want <= 4; want++ {
		m := recv(t, sub)
		wantHeader(t, m, "delivery-count", strconv.Itoa(want))
		if want < 4 {
			if err := c.Nack(m); err != nil {
				t.Fatal(err)
			}
		}
	}
	c.close() // the fourth delivery goes back with the consumer: failed too
	if err := s1.Shutdown(); err != nil {
		t.Fatal(err)
	}
	reopen()

	s2 := start()
	c = dial(t, s2)
	sub = c.subscribe("/queue/counted", stompc.AckClientIndividual)
	m := recv(t, sub)
	wantHeader(t, m, "delivery-count", "5")
	wantHeader(t, m, "redelivered", "true")
	if err := c.Ack(m); err != nil {
		t.Fatal(err)
	}
}
