package management

import (
	"sync"
	"time"
)

// sampler turns counters into rates: every SampleInterval, while the API
// is in use, it reads the counters of the broker, the adapters, the queues
// and the sessions, and keeps the per-second difference from the previous
// reading. Readers get
// the last complete interval's rates; nothing is computed per request, so a
// list of 10,000 queues costs a map lookup per queue.
type sampler struct {
	a  *API
	mu sync.RWMutex

	at       time.Time
	sent     uint64
	queues   map[string]counterPair
	sessions map[uint64]counterPair
	adapters map[string]counterPair

	sentRate     float64
	queueRates   map[string]ratePair
	sessionRates map[uint64]ratePair
	adapterRates map[string]ratePair
}

type counterPair struct{ in, out uint64 }

// ratePair is a rate in and out, per second: for a queue, enqueued and
// acknowledged; for a session or an adapter, messages received and sent.
type ratePair struct{ in, out float64 }

func newSampler(a *API) *sampler {
	s := &sampler{a: a}
	s.sample(time.Now())
	return s
}

func (s *sampler) sample(now time.Time) {
	st := s.a.b.Stats()
	queues := map[string]counterPair{}
	for _, q := range s.a.b.Queues() {
		qs := q.Stats()
		queues[q.Name()] = counterPair{qs.Enqueued, qs.Acked}
	}
	sessions := map[uint64]counterPair{}
	for _, ss := range s.a.b.Sessions() {
		sessions[ss.ID] = counterPair{ss.MessagesIn, ss.MessagesOut}
	}
	adapters := map[string]counterPair{}
	for name, as := range s.a.o.Adapters() {
		adapters[name] = counterPair{as.MessagesIn, as.MessagesOut}
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.at.IsZero() {
		dt := now.Sub(s.at).Seconds()
		if dt <= 0 {
			return
		}
		s.sentRate = perSecond(s.sent, st.Sent, dt)
		s.queueRates = rates(s.queues, queues, dt)
		s.sessionRates = rates(s.sessions, sessions, dt)
		s.adapterRates = rates(s.adapters, adapters, dt)
	}
	s.at, s.sent, s.queues, s.sessions, s.adapters = now, st.Sent, queues, sessions, adapters
}

// rest forgets the last reading while nobody looks, so that the first
// rates after the rest cover one interval, not the whole rest; the rates
// shown are cleared with it.
func (s *sampler) rest() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.at = time.Time{}
	s.queues, s.sessions, s.adapters = nil, nil, nil
	s.queueRates, s.sessionRates, s.adapterRates, s.sentRate = nil, nil, nil, 0
}

func rates[K comparable](prev, cur map[K]counterPair, dt float64) map[K]ratePair {
	out := make(map[K]ratePair, len(cur))
	for k, c := range cur {
		p, ok := prev[k]
		if !ok {
			continue // new since the last reading: no rate yet
		}
		out[k] = ratePair{perSecond(p.in, c.in, dt), perSecond(p.out, c.out, dt)}
	}
	return out
}

func perSecond(prev, cur uint64, dt float64) float64 {
	if cur < prev {
		return 0
	}
	return float64(cur-prev) / dt
}

func (s *sampler) queue(name string) ratePair {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.queueRates[name]
}

func (s *sampler) session(id uint64) ratePair {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.sessionRates[id]
}

func (s *sampler) adapter(name string) ratePair {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.adapterRates[name]
}

func (s *sampler) broker() float64 {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.sentRate
}
