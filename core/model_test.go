package core

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/junctionmq/junction/core/selector"
)

// TestDispatchModel drives one queue through random sends, settlements,
// credit changes and consumer churn, and after every step checks what the
// dispatcher promises: no consumer with credit is left without a ready message
// it could take; deliveries respect selectors and groups; a consumer sees
// its messages highest priority first and, within a priority, in queue order
// for messages that were never redelivered.
//
// The order checks compare each message's seq property. They catch the
// mutations "nextFor scans the levels lowest priority first" and "new
// messages pushed to the front of their level" (LIFO), which the
// "nothing ready" check alone lets through.
func TestDispatchModel(t *testing.T) {
	selectors := []string{"", "k = 0", "k <> 0", "k = 1 OR k = 2", "JMSPriority >= 5"}
	for seed := uint64(1); seed <= 20; seed++ {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(seed, seed*7))
			b := newTestBroker(t, Config{AddressSettings: settings("#", &AddressSettings{MaxDeliveryAttempts: ptr(-1)})})
			s := newSession(t, b, SessionOptions{})
			type live struct {
				c   *Consumer
				col *collector
				sel *selector.Selector
				out []Delivery
				// lastSeq is, per priority, the seq of the last message this
				// consumer got for the first time, ungrouped and never
				// returned to the queue: such messages come in send order.
				lastSeq [levels]int
			}
			var cons []*live
			addConsumer := func() {
				text := selectors[rng.IntN(len(selectors))]
				c, col := consume(t, s, "m", ConsumerOptions{Selector: text, Credit: rng.IntN(4), Window: rng.IntN(2) == 0})
				l := &live{c: c, col: col, sel: selector.MustParse(text)}
				for i := range l.lastSeq {
					l.lastSeq[i] = -1
				}
				cons = append(cons, l)
			}
			addConsumer()
			q := cons[0].c.Queue()
			seq := 0
			// returned holds the seqs settled other than by an ack: a
			// released message goes back to the head of its level with its
			// delivery count undone, so it may legitimately overtake.
			returned := map[int64]bool{}
			for step := range 600 {
				switch op := rng.IntN(10); {
				case op < 4:
					m := msg("m", fmt.Sprint(seq), "k", rng.IntN(4), "seq", seq)
					seq++
					m.RoutingType = Anycast
					m.Priority = uint8(rng.IntN(10))
					if rng.IntN(4) == 0 {
						m.GroupID = fmt.Sprint("g", rng.IntN(3))
					}
					send(t, s, m)
				case op < 7 && len(cons) > 0:
					l := cons[rng.IntN(len(cons))]
					if len(l.out) == 0 {
						l.c.AddCredit(1 + rng.IntN(3))
						break
					}
					i := rng.IntN(len(l.out))
					d := l.out[i]
					l.out = append(l.out[:i], l.out[i+1:]...)
					var err error
					returned[d.Message.Property("seq").I] = true
					switch rng.IntN(5) {
					case 0, 1:
						err = l.c.Ack(d.Tag)
					case 2:
						err = l.c.Release(d.Tag)
					case 3:
						err = l.c.Nack(d.Tag)
					case 4:
						err = l.c.Modify(d.Tag, true, true)
					}
					if err != nil {
						t.Fatalf("step %d: settle: %v", step, err)
					}
				case op < 8 && len(cons) > 0:
					cons[rng.IntN(len(cons))].c.SetCredit(rng.IntN(5))
				case op < 9 && len(cons) > 1:
					i := rng.IntN(len(cons))
					cons[i].c.Close()
					cons = append(cons[:i], cons[i+1:]...)
				default:
					if len(cons) < 4 {
						addConsumer()
					}
				}
				for _, l := range cons {
					// One step's deliveries to a consumer come from a set
					// that only shrinks, so their priorities never rise.
					prevPrio := levels
					for _, d := range l.col.buffered() {
						m := d.Message
						if !l.sel.Matches(m) {
							t.Fatalf("step %d: %s delivered against selector %q", step, m.Body, l.sel)
						}
						if int(m.Priority) > prevPrio {
							t.Fatalf("step %d: %s (prio %d) delivered after a prio %d message of the same dispatch", step, m.Body, m.Priority, prevPrio)
						}
						prevPrio = int(m.Priority)
						if sq := m.Property("seq").I; d.DeliveryCount == 1 && m.GroupID == "" && !returned[sq] {
							if last := l.lastSeq[m.Priority]; int64(last) >= sq {
								t.Fatalf("step %d: seq %d (prio %d) delivered after seq %d: not in send order", step, sq, m.Priority, last)
							}
							l.lastSeq[m.Priority] = int(sq)
						}
						l.out = append(l.out, d)
					}
				}
				// Nothing ready that a consumer with credit could take.
				q.mu.Lock()
				for _, l := range cons {
					if l.c.credit <= 0 {
						continue
					}
					for lvl := range q.nonEmptyLevels() {
						dq := &q.levels[lvl]
						for p := dq.base; p < dq.end(); p++ {
							r := dq.at(p)
							if r == nil || !l.sel.Matches(r.msg) || r.excluded == l.c {
								continue
							}
							if g := r.msg.GroupID; g != "" && q.groups[g] != nil && q.groups[g] != l.c {
								continue
							}
							q.mu.Unlock()
							t.Fatalf("step %d: %s (prio %d) is ready and matches a consumer with credit %d", step, r.msg.Body, r.msg.Priority, l.c.credit)
						}
					}
				}
				// Groups: every in-flight message of a group is with its owner.
				for _, l := range cons {
					for _, d := range l.out {
						if g := d.Message.GroupID; g != "" && q.groups[g] != l.c {
							q.mu.Unlock()
							t.Fatalf("step %d: group %s message with a consumer that does not own the group", step, g)
						}
					}
				}
				q.mu.Unlock()
			}
			st := q.Stats()
			if st.Ready+st.InFlight+st.Scheduled != st.Messages {
				t.Errorf("stats do not add up: %+v", st)
			}
		})
	}
}
