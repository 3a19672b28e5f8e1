package core

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/junctionmq/junction/storage/memory"
)

// A paged tail that starts with many messages scheduled for later does not
// hold back the ready ones behind them: scheduled messages read back do
// not count as the consumers' read-ahead.
func TestPagingScheduledHeadDoesNotBlock(t *testing.T) {
	store := memory.New()
	b := newTestBroker(t, pagingConfig(store)) // read-ahead 64
	s := newSession(t, b, SessionOptions{})
	sendPaged(t, s, "orders", "fill", 0, 100) // over budget: what follows is paged
	pad := strings.Repeat("p", 200)
	later := time.Now().Add(time.Hour).UnixMilli()
	for i := range 300 {
		m := msg("orders", fmt.Sprint("later", i), "pad", pad)
		m.RoutingType, m.Durable, m.ScheduledAt = Anycast, true, later
		send(t, s, m)
	}
	sendPaged(t, s, "orders", "now", 0, 50)
	if st := queueStats(t, b, "orders"); st.Paged < 350 {
		t.Fatalf("%d paged, want the scheduled and what follows", st.Paged)
	}
	c, col := consume(t, s, "orders", ConsumerOptions{Credit: 1000})
	defer c.Close()
	ds := col.take(t, 150)
	for i, d := range ds {
		want := fmt.Sprint("fill", i)
		if i >= 100 {
			want = fmt.Sprint("now", i-100)
		}
		if string(d.Message.Body) != want {
			t.Fatalf("delivery %d is %q, want %q", i, d.Message.Body, want)
		}
	}
	ackAll(t, ds)
	if st := queueStats(t, b, "orders"); st.Scheduled != 300 || st.Messages != 300 {
		t.Errorf("after the ready ones: %+v, want the 300 scheduled left", st)
	}
}
