package core

import (
	"context"
	"fmt"
	"runtime"
	"testing"
)

// liveHeap is the heap in use once the broker's address sweep has run: the
// sweep runs every few seconds, so what it leaves on an address is part of
// what the address costs. Measuring right after one, rather than whenever the
// reaper's timer happened to fire during the test, makes the figure the same
// on a fast machine and on a loaded one, where a phase spans several sweeps
// (the sweep's cached route sets once pushed an empty subscription from 1,216
// to over 1,280 bytes there).
func liveHeap(b *Broker) uint64 {
	b.sweepAddresses()
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

// TestEmptyCost: what the broker keeps for an address or a queue holding
// nothing. Sends to topics nobody listens to keep nothing; a durable
// subscription without a consumer (its queue and its address) and an
// address on its own stay under about 1 KiB each, the memory store's copy
// of their records included. Figures in docs/PERFORMANCE.md ("Memory").
func TestEmptyCost(t *testing.T) {
	if testing.Short() {
		t.Skip("measures the heap")
	}
	b := newTestBroker(t, Config{})
	s := newSession(t, b, SessionOptions{ClientID: "c"})
	const n = 20000
	h0 := liveHeap(b)
	for i := range n {
		if err := s.Send(context.Background(), &Message{Address: fmt.Sprintf("topic.%d", i), RoutingType: Multicast, Body: []byte("x")}, nil); err != nil {
			t.Fatal(err)
		}
	}
	h1 := liveHeap(b)
	for i := range n {
		c, err := s.Subscribe(SubscribeOptions{Address: fmt.Sprintf("sub.%d", i), Name: fmt.Sprintf("s%d", i), Durable: true}, ConsumerOptions{Handler: func(Delivery) {}})
		if err != nil {
			t.Fatal(err)
		}
		c.Close()
	}
	h2 := liveHeap(b)
	for i := range n {
		if err := b.CreateAddress(fmt.Sprintf("addr.%d", i), Multicast); err != nil {
			t.Fatal(err)
		}
	}
	h3 := liveHeap(b)
	perSend := int64(h1-h0) / n
	perQueue := int64(h2-h1) / n
	perAddr := int64(h3-h2) / n
	t.Logf("heap per send to an unbound topic %d B, per empty durable subscription (queue and address) %d B, per empty address %d B", perSend, perQueue, perAddr)
	if st := b.Stats(); st.Addresses != 2*n {
		t.Errorf("%d addresses, want %d: sends to unbound topics created some", st.Addresses, 2*n)
	}
	if perSend > 16 {
		t.Errorf("a send to an unbound topic keeps %d bytes", perSend)
	}
	if perQueue > 1280 {
		t.Errorf("an empty subscription queue and its address keep %d bytes, want about 1 KiB", perQueue)
	}
	if perAddr > 768 {
		t.Errorf("an empty address keeps %d bytes", perAddr)
	}
}
