package core

import (
	"cmp"
	"fmt"
	"slices"

	"github.com/junctionmq/junction/core/selector"
	"github.com/junctionmq/junction/storage"
)

// Browser walks a queue's ready messages in delivery order (highest priority
// first, then arrival) without taking them: a JMS QueueBrowser, STOMP's
// browser subscription, an AMQP link with distribution-mode copy. It holds a
// cursor into the queue, not a copy of it, and moves only as far as its
// credit allows, so browsing a deep queue costs memory for the messages the
// client asked for alone.
//
// The queue may change while it is browsed: a message taken, acked or
// expired before the cursor reaches it is not seen, one that arrives behind
// the cursor is seen, one that comes back to the head of the queue (released,
// redelivered) after the cursor passed is not. No message is seen twice.
//
// A paging queue's tail (paging.go) is browsed after what is in memory, in
// its order, read from the store with Pager.ReadPaged a batch at a time as
// credit allows, outside the queue's lock: nothing is paged in and nothing
// changes for the queue. References the queue pages in while it is browsed
// are found in memory by their store position (Message.pagedPos), so that
// none is seen twice or skipped for having moved. The store's paged range
// moves before the queue's (a page-in applies its batch, then appends it):
// a read that falls in between waits for the append and is read again
// (readLocked), or it would pass over that batch.
type Browser struct {
	q       *Queue
	sel     *selector.Selector
	handler func(*Message)
	onEnd   func()

	// Guarded by q.mu. The cursor is per priority level; see nextLocked.
	credit int
	lvl    int    // the priority level being walked, levels-1 down to 0
	pos    int64  // next position to look at in that level
	endAt  int64  // the level's end when the cursor entered it
	ver    uint64 // the queue's version then
	epoch  uint32 // the level's epoch when pos was taken
	last   *ref   // the last ref shown at this level, to find pos again after compaction
	lastID uint64 // its message id, for when it left the level too
	skipTo uint64 // after a compaction that lost last: skip ids up to this
	done   bool   // the end was reached (or the browser closed)
	ended  bool   // onEnd was called

	// The paged tail, once the levels are walked (tail set): shown is the
	// store position of the last paged reference shown or passed, buf the
	// batch read after it not shown yet, gen the tail generation it was
	// read in (a purge discards it).
	tail    bool
	reading bool // a read of the tail runs, q.mu released
	shown   uint64
	gen     uint64
	buf     []browsedPaged
}

// browsedPaged is a paged reference read for a browser.
type browsedPaged struct {
	pos uint64
	r   ref // msg, deliveryCount and scheduledAt, for selectors and schedules
}

// browseBatch bounds how many paged references a browser reads (and holds)
// at once.
const browseBatch = 256

// BrowserOptions configure a Browser.
type BrowserOptions struct {
	// Selector filters what is shown (JMS SQL-92); "" for everything.
	Selector string
	// Handler receives each message, with the queue's lock held, like a
	// consumer's: encode and return.
	Handler func(*Message)
	// OnEnd is called once, with the queue's lock held, when the browser has
	// walked to the end of the queue (STOMP's browser:end, an AMQP drain's
	// end).
	OnEnd func()
	// Credit is how many messages to show before waiting for AddCredit.
	Credit int
}

// Browse calls fn with the queue's ready messages in delivery order, without
// consuming them, until fn returns false. It walks the queue with a Browser
// in batches, calling fn outside the queue's lock, so fn may call the core
// and a deep queue is never copied whole.
func (s *Session) Browse(queue, sel string, fn func(*Message) bool) error {
	const batch = 64
	var msgs []*Message
	br, err := s.NewBrowser(queue, BrowserOptions{Selector: sel, Handler: func(m *Message) { msgs = append(msgs, m) }})
	if err != nil {
		return err
	}
	defer br.Close()
	for {
		msgs = msgs[:0]
		br.AddCredit(batch)
		for _, m := range msgs {
			if !fn(m) {
				return nil
			}
		}
		if len(msgs) < batch {
			return nil
		}
	}
}

// NewBrowser opens a browser on a queue (browse permission on its address).
func (s *Session) NewBrowser(queue string, opts BrowserOptions) (*Browser, error) {
	if opts.Handler == nil {
		return nil, fmt.Errorf("browser needs a handler")
	}
	q, ok := s.b.Queue(queue)
	if !ok {
		return nil, fmt.Errorf("%w: %q", ErrNoSuchQueue, queue)
	}
	if err := s.authorize(PermBrowse, q.info.Address); err != nil {
		return nil, err
	}
	sel, err := parseSelector(opts.Selector)
	if err != nil {
		return nil, err
	}
	br := &Browser{q: q, sel: sel, handler: opts.Handler, onEnd: opts.OnEnd, lvl: levels}
	q.mu.Lock()
	br.enterLevelLocked(levels - 1)
	q.mu.Unlock()
	br.AddCredit(opts.Credit)
	return br, nil
}

// AddCredit lets the browser show n more messages.
func (br *Browser) AddCredit(n int) {
	q := br.q
	q.mu.Lock()
	if !br.done {
		br.credit += n
		br.walkLocked()
	}
	q.mu.Unlock()
}

// Close stops the browser; OnEnd is not called.
func (br *Browser) Close() {
	br.q.mu.Lock()
	br.done = true
	br.q.mu.Unlock()
}

// Ended reports whether the browser walked to the end of the queue.
func (br *Browser) Ended() bool {
	br.q.mu.Lock()
	defer br.q.mu.Unlock()
	return br.ended
}

// walkLocked shows what credit allows. Caller holds q.mu, which it
// releases and takes again while it reads the store for the paged tail.
func (br *Browser) walkLocked() {
	q := br.q
	if br.reading {
		return // another AddCredit is reading the tail: it goes on with this credit
	}
	for !br.done {
		if q.deleted {
			br.finishLocked()
			return
		}
		now := q.b.nowMs()
		for br.credit > 0 && !br.tail {
			r := br.nextLocked(now)
			if r == nil {
				br.tail = true
				break
			}
			br.credit--
			br.shown = max(br.shown, r.msg.pagedPos)
			br.handler(r.msg)
		}
		if br.credit <= 0 || !br.tailLocked(now) {
			return
		}
		br.reading = true
		br.readLocked()
		br.reading = false
	}
}

// tailLocked shows the paged tail from what is read and what the queue
// paged in meanwhile, and reports whether more must be read from the store
// to go on. Caller holds q.mu.
func (br *Browser) tailLocked(now int64) bool {
	q := br.q
	for br.credit > 0 {
		pg := q.pg
		if pg == nil {
			br.finishLocked()
			return false
		}
		if pg.gen != br.gen {
			br.buf, br.gen = br.buf[:0], pg.gen // purged: what was read is gone
		}
		if pg.after > br.shown {
			// The queue paged in past what the browser has seen: those
			// references are in memory (or consumed) now, and the store
			// reads past them.
			br.pagedInLocked(now, pg.after)
			continue
		}
		for len(br.buf) > 0 && br.buf[0].pos <= br.shown {
			br.buf = br.buf[1:]
		}
		if len(br.buf) == 0 {
			if pg.count == 0 {
				br.finishLocked()
				return false
			}
			return true
		}
		e := br.buf[0]
		br.buf[0] = browsedPaged{} // the batch's array holds no message shown
		br.buf = br.buf[1:]
		br.shown = e.pos
		if e.r.msg != nil && br.visible(&e.r, now) { // nil: undecodable, passed over
			br.credit--
			br.handler(e.r.msg)
		}
	}
	return false
}

// visible reports whether the browser shows r: ready (not expired, not
// scheduled later) and matching its selector.
func (br *Browser) visible(r *ref, now int64) bool {
	m := r.msg
	if (m.Expiration != 0 && now >= m.Expiration) || r.scheduledAt > now {
		return false
	}
	return br.sel == nil || br.sel.Matches(r)
}

// pagedInLocked shows, in tail order, the ready references the queue paged
// in after br.shown and up to upto, as far as credit goes. It walks what
// the queue holds in memory: at most its read-ahead, a few thousand.
// Caller holds q.mu.
func (br *Browser) pagedInLocked(now int64, upto uint64) {
	q := br.q
	var in []*ref
	for lvl := range q.nonEmptyLevels() {
		d := &q.levels[lvl]
		for p := d.base; p < d.end(); p++ {
			if r := d.at(p); r != nil && r.msg.pagedPos > br.shown && r.msg.pagedPos <= upto && !r.expiring && !r.moving {
				in = append(in, r)
			}
		}
	}
	slices.SortFunc(in, func(a, b *ref) int { return cmp.Compare(a.msg.pagedPos, b.msg.pagedPos) })
	for _, r := range in {
		if br.credit <= 0 {
			return
		}
		br.shown = r.msg.pagedPos
		if br.visible(r, now) {
			br.credit--
			br.handler(r.msg)
		}
	}
	br.shown = upto
}

// readLocked reads the next batch of the paged tail into br.buf, with
// q.mu released meanwhile. A failed read ends the browser: it cannot show
// the rest in order. Caller holds q.mu.
func (br *Browser) readLocked() {
	q := br.q
	b := q.b
	after, gen, n := br.shown, br.gen, min(br.credit, browseBatch)
	n = max(n, 16) // a selector may pass over most of a batch
	buf := br.buf[:0]
	q.mu.Unlock()
	err := b.pager.ReadPaged(q.info.ID, after, n, func(p storage.PagedRef) error {
		m, err := DecodeMessage(p.Data)
		if err != nil {
			// The page-in drops it; a browser passes over it.
			buf = append(buf, browsedPaged{pos: p.Pos})
			return nil
		}
		m.setStoreID(p.MsgID)
		e := browsedPaged{pos: p.Pos, r: ref{msg: m, pos: -1, heapIdx: -1, deliveryCount: p.DeliveryCount, scheduledAt: p.ScheduledAt}}
		if e.r.scheduledAt == 0 && m.ScheduledAt != 0 && p.DeliveryCount == 0 {
			e.r.scheduledAt = m.ScheduledAt
		}
		buf = append(buf, e)
		return nil
	})
	q.mu.Lock()
	// A page-in applying a batch moves the store's paged range before the
	// queue's (pg.after, when it appends): a read in between found the
	// store past references that are neither in memory yet nor read, and
	// would pass over them, or end short. It cannot tell whether it did,
	// so it waits for the batch to be appended and is read again.
	stale := false
	if pg := q.pg; pg != nil {
		for pg.moving {
			stale = true
			if pg.moved.L == nil {
				pg.moved.L = &q.mu
			}
			pg.waiting++
			pg.moved.Wait()
			pg.waiting--
		}
	}
	switch {
	case br.done:
	case err != nil:
		b.log.Warn("browsing a paging queue: its paged messages could not be read; the browser ends here", "queue", q.info.Name, "err", err)
		br.finishLocked()
	case q.pg == nil || q.pg.gen != gen:
		// Purged meanwhile: tailLocked starts over from the store.
	case stale:
		// tailLocked shows what was appended, then reads after it.
	case len(buf) == 0:
		// Nothing is paged after what was shown (what is counted is not
		// stored yet): the end of the queue.
		if q.pg.after <= br.shown {
			br.finishLocked()
		}
	default:
		br.buf = buf
	}
}

func (br *Browser) finishLocked() {
	br.done = true
	if !br.ended {
		br.ended = true
		if br.onEnd != nil {
			br.onEnd()
		}
	}
}

func (br *Browser) enterLevelLocked(lvl int) {
	br.lvl = lvl
	if lvl < 0 {
		return
	}
	d := br.q.level(lvl)
	br.pos, br.endAt, br.ver, br.epoch = d.base, d.end(), br.q.version, d.epoch
	br.last, br.lastID, br.skipTo = nil, 0, 0
}

// nextLocked moves the cursor to the next ref to show, or returns nil at the
// end of the queue.
//
// Positions in a level only grow at the back (new refs), and a ref pushed
// back to the front (released, redelivered) takes a position below the
// level's base at that moment. So a live ref at or after the cursor is new
// unless it sits below the end the level had when the cursor entered it and
// became ready since then: then it came back to the front into positions already
// consumed, possibly after being shown, and is skipped. Compaction
// renumbers positions (a new epoch): the cursor is found again after the
// last ref shown, or by message id if that ref has gone too.
func (br *Browser) nextLocked(now int64) *ref {
	q := br.q
	for br.lvl >= 0 {
		d := q.level(br.lvl)
		if br.epoch != d.epoch {
			br.epoch = d.epoch
			switch {
			case br.last != nil && br.last.pos >= 0:
				br.pos = br.last.pos + 1
			case br.last != nil:
				br.pos, br.skipTo = d.base, br.lastID
			default:
				br.pos = d.base
			}
			br.endAt, br.ver = d.end(), q.version
		}
		if br.pos < d.base {
			br.pos = d.base
		}
		for ; br.pos < d.end(); br.pos++ {
			r := d.at(br.pos)
			if r == nil || (r.msg.Expiration != 0 && now >= r.msg.Expiration) {
				continue
			}
			if br.pos < br.endAt && r.readyAt > br.ver {
				continue // came back to the front after the cursor passed
			}
			if r.msg.ID <= br.skipTo {
				continue
			}
			if br.sel != nil && !br.sel.Matches(r) {
				continue
			}
			br.pos++
			br.last, br.lastID = r, r.msg.ID
			return r
		}
		br.enterLevelLocked(br.lvl - 1)
	}
	return nil
}
