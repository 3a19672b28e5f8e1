//go:build lockorder

package lockorder

import (
	"bytes"
	"fmt"
	"runtime"
	"strconv"
	"sync"
)

// Enabled reports whether this build checks the lock order.
const Enabled = true

// Mutex is a sync.Mutex whose Lock checks the goroutine's lock order.
type Mutex[R Ranker] struct{ mu sync.Mutex }

func (m *Mutex[R]) Lock() {
	var r R
	acquire(r.Rank())
	m.mu.Lock()
}

func (m *Mutex[R]) Unlock() {
	var r R
	m.mu.Unlock()
	release(r.Rank())
}

// RWMutex is a sync.RWMutex whose Lock and RLock check the lock order.
type RWMutex[R Ranker] struct{ mu sync.RWMutex }

func (m *RWMutex[R]) Lock() {
	var r R
	acquire(r.Rank())
	m.mu.Lock()
}

func (m *RWMutex[R]) Unlock() {
	var r R
	m.mu.Unlock()
	release(r.Rank())
}

func (m *RWMutex[R]) RLock() {
	var r R
	acquire(r.Rank())
	m.mu.RLock()
}

func (m *RWMutex[R]) RUnlock() {
	var r R
	m.mu.RUnlock()
	release(r.Rank())
}

var (
	heldMu sync.Mutex
	held   = map[uint64][]int{} // goroutine id -> ranks held, in order taken
)

// acquire records that the goroutine takes a lock of rank, and panics if it
// already holds one of the same or a higher rank.
func acquire(rank int) {
	g := goid()
	heldMu.Lock()
	hs := held[g]
	for _, h := range hs {
		if h >= rank {
			heldMu.Unlock()
			panic(fmt.Sprintf("lock order: taking the %s lock (rank %d) while holding the %s lock (rank %d); held: %v",
				name(rank), rank, name(h), h, describe(hs)))
		}
	}
	held[g] = append(hs, rank)
	heldMu.Unlock()
}

func release(rank int) {
	g := goid()
	heldMu.Lock()
	defer heldMu.Unlock()
	hs := held[g]
	for i := len(hs) - 1; i >= 0; i-- {
		if hs[i] == rank {
			hs = append(hs[:i], hs[i+1:]...)
			break
		}
	}
	// A lock released by another goroutine than the one that took it (none
	// of the ranked locks is used so) would leave a stale entry here.
	if len(hs) == 0 {
		delete(held, g)
	} else {
		held[g] = hs
	}
}

func describe(hs []int) []string {
	out := make([]string, len(hs))
	for i, h := range hs {
		out[i] = name(h)
	}
	return out
}

// goid reads the current goroutine's id from its stack header
// ("goroutine 123 [running]:"): slow, and only in this build.
func goid() uint64 {
	var buf [64]byte
	b := buf[:runtime.Stack(buf[:], false)]
	b = bytes.TrimPrefix(b, []byte("goroutine "))
	if i := bytes.IndexByte(b, ' '); i > 0 {
		b = b[:i]
	}
	id, _ := strconv.ParseUint(string(b), 10, 64)
	return id
}

var names = map[int]string{
	StoreFlush: "store flush", MQTTSave: "MQTT session save", Transaction: "transaction",
	MQTTServer: "MQTT server", Broker: "broker", Queue: "queue", MQTTSession: "MQTT session",
}

func name(rank int) string {
	if n, ok := names[rank]; ok {
		return n
	}
	return "rank?"
}
