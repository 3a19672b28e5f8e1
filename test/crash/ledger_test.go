package crash

import (
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
)

// ledger is what the clients saw over a whole run, one broker lifetime
// (start to SIGKILL) after another, and the checks on it.
type ledger struct {
	attempted map[[2]int]int   // {life, producer} → messages 0..n-1 attempted
	confirmed map[string]bool  // ids whose RECEIPT arrived
	recv      map[string][]hit // id → its deliveries, in order
	// pinned says which messages went to the pinned queue, which nobody
	// consumes until the drain (nil: none did).
	pinned      func(n int) bool
	pinnedQueue string

	problems []string // each one fails the test

	// Figures for the report.
	lives          int
	nAttempted     int
	nConfirmed     int
	nDeliveries    int
	dups           int         // deliveries after an id's first
	dupsByLife     map[int]int // by the lifetime of the earlier delivery
	nPinned        int         // confirmed pinned messages
	barriers       int         // barrier receipts: points where acks were proven durable
	durableAcked   int         // deliveries whose ack a barrier proved durable
	durableBack    int         // ... and that came back all the same
	inDoubtArrived int         // attempted, never confirmed, yet delivered
	nacks          int         // deliveries answered with NACK
}

// hit is one delivery of a message.
type hit struct {
	life    int
	queue   string
	durable bool // its ack was proven durable by a later barrier's receipt
	// For failure reports: the broker's message-id and delivery count, the
	// ack's index, durable acks and acks of the lifetime.
	mid, count             string
	ack, durableAcks, acks int
	nacked                 bool // answered with NACK: it comes back in the same life
}

func newLedger() *ledger {
	return &ledger{
		attempted:  map[[2]int]int{},
		confirmed:  map[string]bool{},
		recv:       map[string][]hit{},
		dupsByLife: map[int]int{},
	}
}

func (l *ledger) problem(format string, args ...any) {
	if len(l.problems) < 50 {
		l.problems = append(l.problems, fmt.Sprintf(format, args...))
	} else if len(l.problems) == 50 {
		l.problems = append(l.problems, "(further problems not listed)")
	}
}

// addProducer records a producer's lifetime.
func (l *ledger) addProducer(life, num int, rep producerReport) {
	if rep.err != nil {
		l.problem("life %d: %v", life, rep.err)
	}
	l.attempted[[2]int{life, num}] = rep.attempted
	l.nAttempted += rep.attempted
	for _, n := range rep.confirmed {
		if n >= rep.attempted {
			l.problem("life %d producer %d: receipt for message %d, never sent", life, num, n)
			continue
		}
		id := msgID{life, num, n}.String()
		if l.confirmed[id] {
			l.problem("life %d producer %d: two receipts for message %d", life, num, n)
			continue
		}
		l.confirmed[id] = true
		l.nConfirmed++
		if l.pinned != nil && l.pinned(n) {
			l.nPinned++
		}
	}
}

// addConsumer records a consumer's lifetime. Producers of the same lifetime
// must have been added first.
func (l *ledger) addConsumer(life int, rep consumerReport) {
	if rep.err != nil {
		l.problem("life %d: %v", life, rep.err)
	}
	l.barriers += rep.barrierReceipts
	// lastN is, per queue and sending producer lifetime, the number of the
	// last message delivered for the first time in this life: a queue with
	// a single consumer delivers each producer's messages in the order they
	// were sent. Redeliveries after a NACK go to the head and are exempt,
	// in this life and (delivery-count above 1) after a restart.
	type source struct {
		queue          string
		life, producer int
	}
	lastN := map[source]int{}
	for _, r := range rep.recv {
		m, _ := parseID(r.id) // checkBody vetted it
		if m.life > life || m.n >= l.attempted[[2]int{m.life, m.producer}] {
			l.problem("life %d: delivered %s, which no producer sent", life, r.id)
			continue
		}
		count, err := strconv.Atoi(r.count)
		if err != nil || count < 1 {
			l.problem("life %d: %s delivered with delivery-count %q", life, r.id, r.count)
		}
		prev := l.recv[r.id]
		firstInLife := true
		for _, p := range prev {
			if p.life != life {
				continue
			}
			firstInLife = false
			if !p.nacked {
				l.problem("life %d: %s delivered twice in one broker lifetime", life, r.id)
				break
			}
		}
		if firstInLife && count == 1 {
			src := source{r.queue, m.life, m.producer}
			if last, ok := lastN[src]; ok && m.n <= last {
				l.problem("life %d: %s delivered after %s from the same producer: out of send order on a single-consumer queue",
					life, r.id, msgID{m.life, m.producer, last})
			}
			lastN[src] = m.n
		}
		// Delivery counts never go backwards: above the count of the
		// delivery before in this life (the broker incremented it), and
		// above every count whose NACK was proven durable (it was stored).
		floor := 0
		for _, p := range prev {
			pc, _ := strconv.Atoi(p.count)
			if p.life == life || (p.nacked && p.durable) {
				floor = max(floor, pc)
			}
		}
		if count <= floor {
			l.problem("life %d: %s delivered with delivery-count %d, not above %d: the count went backwards", life, r.id, count, floor)
		}
		for _, p := range prev {
			if p.durable && !p.nacked {
				l.durableBack++
				l.problem("life %d: %s (%s, delivery-count %s) redelivered although its ack in life %d was durable (a later barrier's receipt arrived): earlier delivery %s, count %s, ack #%d of %d, durable up to #%d",
					life, r.id, r.mid, r.count, p.life, p.mid, p.count, p.ack, p.acks, p.durableAcks)
				break
			}
		}
		if len(prev) > 0 && firstInLife {
			l.dups++
			l.dupsByLife[prev[len(prev)-1].life]++
		} else if !l.confirmed[r.id] {
			l.inDoubtArrived++
		}
		h := hit{life: life, queue: r.queue, durable: r.ack < rep.durableAcks,
			mid: r.mid, count: r.count, ack: r.ack, durableAcks: rep.durableAcks, acks: rep.acks, nacked: r.nacked}
		if h.durable && !h.nacked {
			l.durableAcked++
		}
		if h.nacked {
			l.nacks++
		}
		l.recv[r.id] = append(prev, h)
		l.nDeliveries++
	}
}

// neverDelivered counts confirmed ids not delivered so far: each must still
// be in the journal, so a restart must recover at least that many refs.
func (l *ledger) neverDelivered() int {
	n := 0
	for id := range l.confirmed {
		if len(l.recv[id]) == 0 {
			n++
		}
	}
	return n
}

// finish runs the end-of-run checks: nothing confirmed lost, pinned messages
// delivered exactly once and only from their queue.
func (l *ledger) finish() {
	var lost []string
	for id := range l.confirmed {
		if len(l.recv[id]) == 0 {
			lost = append(lost, id)
		}
	}
	if len(lost) > 0 {
		sortIDs(lost)
		l.problem("%d confirmed messages lost (receipt received, never delivered), e.g. %s", len(lost), strings.Join(lost[:min(20, len(lost))], " "))
	}
	for id, hits := range l.recv {
		m, _ := parseID(id)
		wantPinned := l.pinned != nil && l.pinned(m.n)
		for _, h := range hits {
			if wantPinned != (h.queue == l.pinnedQueue) {
				l.problem("%s delivered from queue %s", id, h.queue)
				break
			}
		}
		if wantPinned && len(hits) != 1 {
			l.problem("pinned message %s delivered %d times; nobody consumed its queue before the drain", id, len(hits))
		}
	}
}

func sortIDs(ids []string) {
	sort.Slice(ids, func(i, j int) bool {
		a, _ := parseID(ids[i])
		b, _ := parseID(ids[j])
		return slices.Compare([]int{a.life, a.producer, a.n}, []int{b.life, b.producer, b.n}) < 0
	})
}
