package postgres

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/junctionmq/junction/storage"
)

// execTimeout bounds one group's round trip; past it the connection is
// dropped and the group retried on a new one.
const execTimeout = 30 * time.Second

// holdLimit is how long a group accepted before the database went away
// waits for it to come back (a restart, a failover of the database) before
// it fails.
const holdLimit = 5 * time.Second

// The bounds of awaitGroup's wait.
const (
	minCommitDelay = 200 * time.Microsecond
	maxCommitDelay = 10 * time.Millisecond
)

// fenceCode is the SQLSTATE junction_fence raises.
const fenceCode = "JF001"

// run is the writer: it takes what is queued, writes it as one
// transaction, and checks the connection when idle.
func (s *Store) run() {
	defer close(s.stopped)
	timer := time.NewTimer(idleCheck)
	defer timer.Stop()
	for {
		batch, closing := s.next(timer)
		if len(batch) == 0 {
			if closing {
				return
			}
			s.idle()
			continue
		}
		s.write(batch)
	}
}

// next waits for queued requests, the idle timer, or Close, and takes a
// group's worth of requests.
func (s *Store) next(timer *time.Timer) ([]request, bool) {
	s.qmu.Lock()
	for len(s.pending) == 0 && !s.closing {
		s.qmu.Unlock()
		wait := idleCheck
		if s.conn == nil {
			wait = max(time.Until(s.retryAt), time.Millisecond)
		}
		timer.Reset(wait)
		select {
		case <-s.wake:
			timer.Stop()
		case <-timer.C:
			return nil, false
		}
		s.qmu.Lock()
	}
	if !s.closing && s.lastGroup >= 2 && s.pendingSync < s.lastGroup {
		s.qmu.Unlock()
		s.awaitGroup()
		s.qmu.Lock()
	}
	n, ops, bytes, synced := 0, 0, 0, 0
	for n < len(s.pending) && (n == 0 || (ops+len(s.pending[n].ops) <= maxGroupOps && bytes+s.pending[n].size <= maxGroupBytes)) {
		ops += len(s.pending[n].ops)
		bytes += s.pending[n].size
		if s.pending[n].sync {
			synced++
		}
		n++
	}
	s.pendingSync -= synced
	s.lastGroup = synced
	batch := make([]request, n)
	copy(batch, s.pending)
	rest := copy(s.pending, s.pending[n:])
	clear(s.pending[rest:])
	s.pending = s.pending[:rest]
	closing := s.closing
	s.qmu.Unlock()
	return batch, closing
}

// awaitGroup is group commit's patience, as in the journal: producers
// that wait for each confirmation come back one round trip after the
// previous commit, and committing for the first of them makes the rest
// wait a whole commit more (they split into cohorts committing in turn).
// So when the previous group held several synced requests and fewer are
// queued, the writer waits up to about one commit's time for as many
// (PostgreSQL's commit_delay does the same across sessions).
func (s *Store) awaitGroup() {
	s.qmu.Lock()
	target := s.lastGroup
	s.delayTarget = target
	s.qmu.Unlock()
	defer func() {
		s.qmu.Lock()
		s.delayTarget = 0
		s.qmu.Unlock()
	}()
	delay := min(max(time.Duration(s.commitAvg.Load()), minCommitDelay), maxCommitDelay)
	t := time.NewTimer(delay)
	defer t.Stop()
	for {
		select {
		case <-s.wake:
		case <-t.C:
			return
		}
		s.qmu.Lock()
		done := s.pendingSync >= target || s.closing
		s.qmu.Unlock()
		if done {
			return
		}
	}
}

func (s *Store) closingNow() bool {
	s.qmu.Lock()
	defer s.qmu.Unlock()
	return s.closing
}

// write writes batch as one transaction, retrying on a new connection
// while the database is away: what was accepted is confirmed once written,
// or fails if the store is fenced or closed meanwhile, or the database
// stays away longer than holdLimit.
func (s *Store) write(batch []request) {
	g := s.group(batch)
	for {
		if !s.downSince.IsZero() && time.Since(s.downSince) > holdLimit {
			// Away too long: what was accepted before Health said so
			// fails rather than keep its clients waiting.
			s.failed(batch, g, s.Health())
			return
		}
		err := s.connect()
		var d deltas
		if err == nil {
			start := time.Now()
			d, err = s.exec(g)
			if err == nil && !g.empty {
				took := time.Since(start)
				s.lastSync.Store(int64(took))
				// A moving average over about eight commits.
				avg := time.Duration(s.commitAvg.Load())
				s.commitAvg.Store(int64(avg + (took-avg)/8))
			}
		}
		if err == nil {
			s.succeeded(batch, d)
			return
		}
		switch {
		case !g.upsert && isUniqueViolation(err):
			// A message or reference stored before, and stored again
			// (a retried attempt is an upsert already). The
			// transaction rolled back whole: again, replacing.
			g.upsert = true
			continue
		case isFenced(err):
			s.fence(err)
			s.failed(batch, g, fmt.Errorf("%w: %w", ErrFenced, err))
			return
		case s.conn != nil && !s.conn.IsClosed() && !transient(err):
			// The database refused this group (a bug or a value it
			// cannot hold): fail it, and go on with the next.
			s.log.Error("store: a write was refused", "err", err)
			s.failed(batch, g, fmt.Errorf("postgres: write refused: %w", err))
			return
		}
		s.unavailable(err)
		// The outcome of this attempt's COMMIT may be lost with the
		// connection: the next one must not mind finding its rows.
		g.upsert = true
		if s.closingNow() {
			s.failed(batch, g, s.Health())
			return
		}
		s.sleep()
	}
}

// sleep waits out the backoff, or until Close gives up on the database.
func (s *Store) sleep() {
	t := time.NewTimer(time.Until(s.retryAt))
	defer t.Stop()
	select {
	case <-t.C:
	case <-s.ctx.Done():
	}
}

// idle checks the connection and the epoch: a database that went away or
// a takeover are noticed without traffic, and a lost connection is
// re-made.
func (s *Store) idle() {
	if s.fenced() {
		return
	}
	if s.conn == nil {
		if time.Now().Before(s.retryAt) {
			return
		}
		if err := s.connect(); err != nil {
			if isFenced(err) {
				s.fence(err)
				return
			}
			s.unavailable(err)
			return
		}
		s.recovered()
		return
	}
	ctx, cancel := context.WithTimeout(s.ctx, 5*time.Second)
	defer cancel()
	var epoch int64
	err := s.conn.QueryRow(ctx, "SELECT epoch FROM junction_holder WHERE id = 1").Scan(&epoch)
	switch {
	case err != nil:
		s.unavailable(err)
	case epoch != s.epoch:
		s.fence(fmt.Errorf("the store's epoch is %d, this broker's %d", epoch, s.epoch))
	}
}

func (s *Store) fenced() bool {
	s.qmu.Lock()
	defer s.qmu.Unlock()
	return errors.Is(s.qerr, ErrFenced)
}

// connect makes a new connection if there is none and takes the store lock
// back on it, provided nobody took it over meanwhile (the epoch is still
// this store's).
func (s *Store) connect() error {
	if s.fenced() {
		return ErrFenced
	}
	if s.conn != nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(s.ctx, 10*time.Second)
	defer cancel()
	conn, err := pgx.ConnectConfig(ctx, s.cfg)
	if err != nil {
		return fmt.Errorf("connecting: %w", err)
	}
	if err := fastArrays(conn); err != nil {
		conn.Close(context.Background())
		return err
	}
	var got bool
	var epoch int64
	err = conn.QueryRow(ctx, "SELECT pg_try_advisory_lock($1), (SELECT epoch FROM junction_holder WHERE id = 1)", lockKey).Scan(&got, &epoch)
	switch {
	case err != nil:
		err = fmt.Errorf("taking the store lock back: %w", err)
	case epoch != s.epoch:
		err = &fenceError{fmt.Sprintf("the store was taken over while the connection was down (epoch %d, ours %d)", epoch, s.epoch)}
	case !got:
		// Our previous session may not have ended yet on the server;
		// anyone else taking the lock increments the epoch, which the
		// next attempt sees.
		err = errors.New("the store lock is still held, by this broker's previous session or a broker taking over")
	}
	if err != nil {
		conn.Close(context.Background())
		return err
	}
	s.conn = conn
	return nil
}

type fenceError struct{ msg string }

func (e *fenceError) Error() string { return e.msg }

func isUniqueViolation(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && pe.Code == "23505"
}

func isFenced(err error) bool {
	var fe *fenceError
	var pe *pgconn.PgError
	return errors.Is(err, ErrFenced) || errors.As(err, &fe) || (errors.As(err, &pe) && pe.Code == fenceCode)
}

// transient reports whether err is the database being away or busy, as
// opposed to refusing what it was sent.
func transient(err error) bool {
	var pe *pgconn.PgError
	if !errors.As(err, &pe) {
		return true // network, timeout, closed connection
	}
	switch {
	case strings.HasPrefix(pe.Code, "08"), // connection exception
		strings.HasPrefix(pe.Code, "53"),                           // insufficient resources (disk full)
		strings.HasPrefix(pe.Code, "57"),                           // operator intervention: shutdown, cannot connect now
		strings.HasPrefix(pe.Code, "58"),                           // system error (I/O)
		pe.Code == "40001", pe.Code == "40P01", pe.Code == "25006": // serialization, deadlock, read-only (a standby)
		return true
	}
	return false
}

// unavailable drops the connection and reports the database away: later
// Apply calls fail until it is back.
func (s *Store) unavailable(cause error) {
	if s.conn != nil {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		s.conn.Close(ctx)
		cancel()
		s.conn = nil
	}
	s.retryAt = time.Now().Add(s.backoff)
	s.backoff = min(s.backoff*2, maxBackoff)
	if s.downSince.IsZero() {
		s.downSince = time.Now()
	}
	s.qmu.Lock()
	changed := s.qerr == nil
	if changed {
		s.qerr = fmt.Errorf("%w: %w", ErrUnavailable, cause)
	}
	s.qmu.Unlock()
	if changed {
		s.log.Error("store: database unavailable, reconnecting", "err", cause)
		s.Changed()
	}
}

// recovered clears the unavailable state once a write or a check went
// through on a new connection.
func (s *Store) recovered() {
	s.backoff = minBackoff
	s.downSince = time.Time{}
	s.qmu.Lock()
	changed := errors.Is(s.qerr, ErrUnavailable)
	if changed {
		s.qerr = nil
	}
	s.qmu.Unlock()
	if changed {
		s.log.Info("store: database reachable again, writes resume")
		s.Changed()
	}
}

// fence stops every write for good: another broker took the store over.
func (s *Store) fence(cause error) {
	if s.conn != nil {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		s.conn.Close(ctx)
		cancel()
		s.conn = nil
	}
	s.qmu.Lock()
	changed := !errors.Is(s.qerr, ErrFenced) && !errors.Is(s.qerr, storage.ErrClosed)
	if changed {
		s.qerr = fmt.Errorf("%w: %w", ErrFenced, cause)
	}
	s.qmu.Unlock()
	if changed {
		s.log.Error("store: fenced, another broker took the store over: this one writes nothing more", "err", cause)
		s.Changed()
	}
}

// failed fails batch, whose group g was not written: where its
// references are is as it was before g.
func (s *Store) failed(batch []request, g *group, err error) {
	for _, k := range g.extNew {
		delete(s.ext, k)
	}
	for _, k := range g.extGone {
		s.ext[k] = struct{}{}
	}
	s.finish(batch, err)
}

// finish fails every request of batch with err.
func (s *Store) finish(batch []request, err error) {
	for i := range batch {
		s.errs.Add(1)
		batch[i].done(err)
	}
	s.settled(batch)
}

func (s *Store) succeeded(batch []request, d deltas) {
	s.recovered()
	s.messages.Add(d.messages)
	s.refs.Add(d.refs)
	s.bindings.Add(d.bindings)
	s.bytes.Add(d.bytes)
	s.paged.Add(d.paged)
	s.syncs.Add(1)
	for i := range batch {
		s.applies.Add(1)
		batch[i].done(nil)
	}
	s.settled(batch)
}

// settled counts batch as done and clears Pressure once the writer caught
// up.
func (s *Store) settled(batch []request) {
	bytes := 0
	for i := range batch {
		bytes += batch[i].size
	}
	s.qmu.Lock()
	s.outstanding -= len(batch)
	s.outstandingBytes -= bytes
	relieved := s.pressure.Load() && s.outstanding <= pressureRequests/4 && s.outstandingBytes <= pressureBytes/4
	if relieved {
		s.pressure.Store(false)
	}
	s.qmu.Unlock()
	if relieved {
		s.Changed()
	}
}

// group is the net effect of a batch's ops, as the arrays its statements
// take. Deletes run before inserts, so a key deleted and added again in
// one group ends added.
type group struct {
	sync bool

	delMsgs          []int64
	insMsgs          []int64
	insData          [][]byte
	insRQ            []pgtype.Int8 // the inline reference's queue, if any
	insRSeq, insRDC  []int64
	insRSched        []int64
	clrQ, clrM       []int64 // inline references gone (acknowledged, or moved to junction_refs)
	iupdQ, iupdM     []int64 // inline references updated
	iupdDC, iupdSch  []int64
	delRefQ, delRefM []int64
	updQ, updM       []int64
	updDC, updSched  []int64
	insQ, insM       []int64
	insSeq           []int64
	insDC, insSched  []int64
	delBindK         []int16
	delBindKey       [][]byte
	insBindK         []int16
	insBindKey       [][]byte
	insBindData      [][]byte

	// Paging (see pager.go).
	pgQ, pgPos, pgM  []int64 // OpPageRef rows
	pgDC, pgSched    []int64
	pgData           [][]byte
	markQ, markTo    []int64 // per queue, the paged-in mark the group ends at
	dropQ            []int64 // OpPageDrop: rows in (dropLo, dropHi] are gone
	dropLo, dropHi   []int64
	pdelQ, pdelPos   []int64 // paged-in messages deleted
	pdeadQ, pdeadPos []int64 // paged-in references acknowledged, message kept
	pupdQ, pupdPos   []int64 // paged-in references updated
	pupdDC, pupdSch  []int64
	// Counts the group changes that no statement reports: paged-in
	// messages and references.
	dMessages, dRefs int64

	empty bool
	// The keys this group added to and took from Store.ext, undone if
	// it fails.
	extNew, extGone []refKey
	// upsert makes the inserts replace rows already there (ON CONFLICT),
	// for a group retried after an attempt whose outcome is unknown. A
	// first attempt inserts plainly: PostgreSQL's speculative insertion,
	// which ON CONFLICT takes for every row, costs more than the insert.
	upsert bool
}

type refKey struct{ q, m uint64 }

// scratch is group's reusable state (the writer's).
type scratch struct {
	msgs     map[uint64]int32 // message id -> msgE index
	msgE     []msgEntry
	delMsgs  map[uint64]struct{}
	inserted map[uint64]int32 // message id -> index in the group's inserts
	refs     map[refKey]int32 // -> refE index
	refE     []refEntry
	delRefs  map[refKey]struct{}
	g        *group
}

type msgEntry struct {
	id   uint64
	data []byte
	live bool
}

type refEntry struct {
	k refKey
	v refVal
}

// reuseGroup returns the writer's group emptied, its busy arrays kept.
func (s *Store) reuseGroup() *group {
	old := s.scratch.g
	if old == nil {
		s.scratch.g = &group{}
		return s.scratch.g
	}
	clear(old.insData)
	*old = group{
		delMsgs: old.delMsgs[:0], insMsgs: old.insMsgs[:0], insData: old.insData[:0],
		insRQ: old.insRQ[:0], insRSeq: old.insRSeq[:0], insRDC: old.insRDC[:0], insRSched: old.insRSched[:0],
		clrQ: old.clrQ[:0], clrM: old.clrM[:0], delRefQ: old.delRefQ[:0], delRefM: old.delRefM[:0],
		insQ: old.insQ[:0], insM: old.insM[:0], insSeq: old.insSeq[:0], insDC: old.insDC[:0], insSched: old.insSched[:0],
		extNew: old.extNew[:0], extGone: old.extGone[:0],
	}
	return old
}

type bindKey struct {
	kind storage.BindingKind
	key  string
}

type refVal struct {
	seq, dc, sched int64
	live           bool
}

type dataVal struct {
	data []byte
	live bool
}

// group nets batch's ops in order and assigns reference sequence numbers.
func (s *Store) group(batch []request) *group {
	// The maps and arrays of the busy paths are the writer's, reused from
	// group to group: grown once, not per group, and holding values, not
	// an allocation per message.
	sc := &s.scratch
	if sc.msgs == nil {
		sc.msgs, sc.delMsgs, sc.inserted = map[uint64]int32{}, map[uint64]struct{}{}, map[uint64]int32{}
		sc.refs, sc.delRefs = map[refKey]int32{}, map[refKey]struct{}{}
	}
	clear(sc.msgs)
	clear(sc.delMsgs)
	clear(sc.inserted)
	clear(sc.refs)
	clear(sc.delRefs)
	clear(sc.msgE)
	sc.msgE, sc.refE = sc.msgE[:0], sc.refE[:0]
	g := s.reuseGroup()
	msgs, delMsgs, refs, delRefs := sc.msgs, sc.delMsgs, sc.refs, sc.delRefs
	upd := map[refKey]*refVal{}
	var updOrder []refKey
	binds := map[bindKey]*dataVal{}
	var bindOrder []bindKey
	delBinds := map[bindKey]struct{}{}
	pg := pageGroup{marks: map[uint64]int64{}, touched: map[uint64]*pagedTouch{}}
	for i := range batch {
		g.sync = g.sync || batch[i].sync
		for j := range batch[i].ops {
			op := &batch[i].ops[j]
			if s.pageOp(g, &pg, op) {
				continue
			}
			switch op.Kind {
			case storage.OpAddMessage:
				if i, ok := msgs[op.MsgID]; ok {
					sc.msgE[i].data, sc.msgE[i].live = op.Data, true
				} else {
					msgs[op.MsgID] = int32(len(sc.msgE))
					sc.msgE = append(sc.msgE, msgEntry{op.MsgID, op.Data, true})
				}
			case storage.OpDeleteMessage:
				if i, ok := msgs[op.MsgID]; ok {
					sc.msgE[i].live = false
				}
				delMsgs[op.MsgID] = struct{}{}
			case storage.OpAddRef:
				k := refKey{op.QueueID, op.MsgID}
				s.nextSeq++
				v := refVal{s.nextSeq, int64(op.DeliveryCount), op.ScheduledAt, true}
				if i, ok := refs[k]; ok {
					sc.refE[i].v = v
				} else {
					refs[k] = int32(len(sc.refE))
					sc.refE = append(sc.refE, refEntry{k, v})
				}
			case storage.OpAck:
				k := refKey{op.QueueID, op.MsgID}
				if i, ok := refs[k]; ok {
					sc.refE[i].v.live = false
				}
				if e, ok := upd[k]; ok {
					e.live = false
				}
				delRefs[k] = struct{}{}
			case storage.OpUpdateRef:
				k := refKey{op.QueueID, op.MsgID}
				if i, ok := refs[k]; ok && sc.refE[i].v.live {
					sc.refE[i].v.dc, sc.refE[i].v.sched = int64(op.DeliveryCount), op.ScheduledAt
				} else if e, ok := upd[k]; ok {
					e.dc, e.sched, e.live = int64(op.DeliveryCount), op.ScheduledAt, true
				} else {
					upd[k] = &refVal{dc: int64(op.DeliveryCount), sched: op.ScheduledAt, live: true}
					updOrder = append(updOrder, k)
				}
			case storage.OpPutBinding:
				k := bindKey{op.Binding, op.Key}
				if e, ok := binds[k]; ok {
					e.data, e.live = op.Data, true
				} else {
					binds[k] = &dataVal{op.Data, true}
					bindOrder = append(bindOrder, k)
				}
			case storage.OpDeleteBinding:
				k := bindKey{op.Binding, op.Key}
				if e, ok := binds[k]; ok {
					e.live = false
				}
				delBinds[k] = struct{}{}
			}
		}
	}
	for id := range delMsgs {
		g.delMsgs = append(g.delMsgs, int64(id))
	}
	inserted := sc.inserted
	for i := range sc.msgE {
		if e := &sc.msgE[i]; e.live {
			inserted[e.id] = int32(len(g.insMsgs))
			g.insMsgs = append(g.insMsgs, int64(e.id))
			g.insData = append(g.insData, nonNil(e.data))
			g.insRQ = append(g.insRQ, pgtype.Int8{})
			g.insRSeq, g.insRDC, g.insRSched = append(g.insRSeq, 0), append(g.insRDC, 0), append(g.insRSched, 0)
		}
	}
	// Where each reference is: s.ext says which live in junction_refs
	// before this group; the others are inline. The statements run in
	// the order deletes, updates, inserts, and s.ext follows them.
	for k := range delRefs {
		if _, ok := s.ext[k]; ok {
			g.delRefQ = append(g.delRefQ, int64(k.q))
			g.delRefM = append(g.delRefM, int64(k.m))
			delete(s.ext, k)
			g.extGone = append(g.extGone, k)
		} else if _, gone := delMsgs[k.m]; !gone {
			// The message stays (other references hold it, or the
			// core deletes it in a later group): its row loses the
			// reference. A deleted message's row goes with it.
			g.clrQ, g.clrM = append(g.clrQ, int64(k.q)), append(g.clrM, int64(k.m))
		}
	}
	for _, k := range updOrder {
		if e := upd[k]; e.live {
			if _, ok := s.ext[k]; ok {
				g.updQ, g.updM = append(g.updQ, int64(k.q)), append(g.updM, int64(k.m))
				g.updDC, g.updSched = append(g.updDC, e.dc), append(g.updSched, e.sched)
			} else {
				g.iupdQ, g.iupdM = append(g.iupdQ, int64(k.q)), append(g.iupdM, int64(k.m))
				g.iupdDC, g.iupdSch = append(g.iupdDC, e.dc), append(g.iupdSch, e.sched)
			}
		}
	}
	for j := range sc.refE {
		k, e := sc.refE[j].k, &sc.refE[j].v
		if !e.live {
			continue
		}
		_, isExt := s.ext[k]
		if i, ok := inserted[k.m]; ok && !isExt && !g.insRQ[i].Valid {
			g.insRQ[i] = pgtype.Int8{Int64: int64(k.q), Valid: true}
			g.insRSeq[i], g.insRDC[i], g.insRSched[i] = e.seq, e.dc, e.sched
			continue
		}
		if _, ok := inserted[k.m]; !ok && !isExt {
			// A reference added to a message stored earlier: if the
			// same reference is inline there (added again), it moves.
			g.clrQ, g.clrM = append(g.clrQ, int64(k.q)), append(g.clrM, int64(k.m))
		}
		if !isExt {
			s.ext[k] = struct{}{}
			g.extNew = append(g.extNew, k)
		}
		g.insQ, g.insM, g.insSeq = append(g.insQ, int64(k.q)), append(g.insM, int64(k.m)), append(g.insSeq, e.seq)
		g.insDC, g.insSched = append(g.insDC, e.dc), append(g.insSched, e.sched)
	}
	// A put replaces: its key is deleted first, so counts and sizes stay
	// exact and a retried group is idempotent.
	for k := range delBinds {
		g.delBindK, g.delBindKey = append(g.delBindK, int16(k.kind)), append(g.delBindKey, []byte(k.key))
	}
	for _, k := range bindOrder {
		if e := binds[k]; e.live {
			if _, ok := delBinds[k]; !ok {
				g.delBindK, g.delBindKey = append(g.delBindK, int16(k.kind)), append(g.delBindKey, []byte(k.key))
			}
			g.insBindK, g.insBindKey = append(g.insBindK, int16(k.kind)), append(g.insBindKey, []byte(k.key))
			g.insBindData = append(g.insBindData, nonNil(e.data))
		}
	}
	s.pageFinish(g, &pg)
	g.empty = len(g.delMsgs)+len(g.insMsgs)+len(g.delRefQ)+len(g.updQ)+len(g.insQ)+len(g.delBindK)+len(g.clrQ)+len(g.iupdQ) == 0 && !g.paging()
	return g
}

// nonNil keeps an empty value from being sent as NULL.
func nonNil(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return b
}

// deltas are what a committed group changed in the counts.
type deltas struct{ messages, refs, bindings, bytes, paged int64 }

const (
	// A deleted message's inline reference, if still there, goes with
	// its row (the core acknowledged it in the same group).
	sqlDelMsgs = `WITH d AS (DELETE FROM junction_messages WHERE id = ANY($1::int8[]) RETURNING octet_length(data) AS n, ref_queue)
SELECT count(*), coalesce(sum(n), 0)::int8, count(ref_queue) FROM d`
	sqlClrInline = `WITH c AS (UPDATE junction_messages m SET ref_queue = NULL FROM unnest($1::int8[], $2::int8[]) AS u(q, m)
WHERE m.id = u.m AND m.ref_queue = u.q RETURNING 1) SELECT count(*) FROM c`
	sqlUpdInline = `UPDATE junction_messages m SET ref_dc = u.dc, ref_sched = u.s
FROM unnest($1::int8[], $2::int8[], $3::int8[], $4::int8[]) AS u(q, m, dc, s) WHERE m.id = u.m AND m.ref_queue = u.q`
	sqlDelRefs = `WITH d AS (DELETE FROM junction_refs r USING unnest($1::int8[], $2::int8[]) AS u(q, m)
WHERE r.queue_id = u.q AND r.msg_id = u.m RETURNING 1) SELECT count(*) FROM d`
	sqlUpdRefs = `UPDATE junction_refs r SET delivery_count = u.dc, scheduled_at = u.s
FROM unnest($1::int8[], $2::int8[], $3::int8[], $4::int8[]) AS u(q, m, dc, s) WHERE r.queue_id = u.q AND r.msg_id = u.m`
	// ON CONFLICT makes a group retried after a commit whose outcome was
	// lost (the connection dropped during COMMIT) idempotent.
	// A message stored again without an inline reference keeps the one
	// its row has.
	sqlInsMsgs = `WITH i AS (INSERT INTO junction_messages AS o (id, data, ref_queue, ref_seq, ref_dc, ref_sched)
SELECT * FROM unnest($1::int8[], $2::bytea[], $3::int8[], $4::int8[], $5::int8[], $6::int8[])
ON CONFLICT (id) DO UPDATE SET data = excluded.data, ref_queue = coalesce(excluded.ref_queue, o.ref_queue),
ref_seq = CASE WHEN excluded.ref_queue IS NULL THEN o.ref_seq ELSE excluded.ref_seq END,
ref_dc = CASE WHEN excluded.ref_queue IS NULL THEN o.ref_dc ELSE excluded.ref_dc END,
ref_sched = CASE WHEN excluded.ref_queue IS NULL THEN o.ref_sched ELSE excluded.ref_sched END
RETURNING (xmax = 0) AS fresh, octet_length(data) AS n, ref_queue)
SELECT count(*) FILTER (WHERE fresh), coalesce(sum(n) FILTER (WHERE fresh), 0)::int8, count(ref_queue) FILTER (WHERE fresh) FROM i`
	sqlInsRefs = `WITH i AS (INSERT INTO junction_refs (queue_id, msg_id, seq, delivery_count, scheduled_at)
SELECT * FROM unnest($1::int8[], $2::int8[], $3::int8[], $4::int8[], $5::int8[])
ON CONFLICT (queue_id, msg_id) DO UPDATE SET seq = excluded.seq, delivery_count = excluded.delivery_count, scheduled_at = excluded.scheduled_at
RETURNING (xmax = 0) AS fresh) SELECT count(*) FILTER (WHERE fresh) FROM i`
	sqlDelBinds = `WITH d AS (DELETE FROM junction_bindings b USING unnest($1::int2[], $2::bytea[]) AS u(k, key)
WHERE b.kind = u.k AND b.key = u.key RETURNING octet_length(b.key) + octet_length(b.data) AS n)
SELECT count(*), coalesce(sum(n), 0)::int8 FROM d`
	// The first attempt's inserts: every row is fresh, and the counts are
	// the group's own.
	sqlInsMsgsPlain = `INSERT INTO junction_messages (id, data, ref_queue, ref_seq, ref_dc, ref_sched)
SELECT * FROM unnest($1::int8[], $2::bytea[], $3::int8[], $4::int8[], $5::int8[], $6::int8[])`
	sqlInsRefsPlain = `INSERT INTO junction_refs (queue_id, msg_id, seq, delivery_count, scheduled_at)
SELECT * FROM unnest($1::int8[], $2::int8[], $3::int8[], $4::int8[], $5::int8[])`
	sqlInsBinds = `INSERT INTO junction_bindings (kind, key, data) SELECT * FROM unnest($1::int2[], $2::bytea[], $3::bytea[])`
)

// exec sends g as one transaction in one round trip.
func (s *Store) exec(g *group) (deltas, error) {
	var d deltas
	if g.empty {
		return d, nil
	}
	// refsGone counts the references a statement removed (its one column).
	refsGone := func(row pgx.Row) error {
		var n int64
		err := row.Scan(&n)
		d.refs -= n
		return err
	}
	b := &pgx.Batch{}
	b.Queue("BEGIN")
	if !g.sync {
		b.Queue("SET LOCAL synchronous_commit TO off")
	}
	b.Queue("SELECT junction_fence($1)", s.epoch)
	s.queuePaging(b, g, &d)
	if len(g.delMsgs) > 0 {
		b.Queue(sqlDelMsgs, int8s(g.delMsgs)).QueryRow(func(row pgx.Row) error {
			var n, bytes, refs int64
			err := row.Scan(&n, &bytes, &refs)
			d.messages -= n
			d.bytes -= bytes
			d.refs -= refs
			return err
		})
	}
	if len(g.clrQ) > 0 {
		b.Queue(sqlClrInline, int8s(g.clrQ), int8s(g.clrM)).QueryRow(refsGone)
	}
	if len(g.iupdQ) > 0 {
		b.Queue(sqlUpdInline, g.iupdQ, g.iupdM, g.iupdDC, g.iupdSch)
	}
	if len(g.delRefQ) > 0 {
		b.Queue(sqlDelRefs, int8s(g.delRefQ), int8s(g.delRefM)).QueryRow(refsGone)
	}
	if len(g.updQ) > 0 {
		b.Queue(sqlUpdRefs, g.updQ, g.updM, g.updDC, g.updSched)
	}
	if len(g.insMsgs) > 0 && !g.upsert {
		b.Queue(sqlInsMsgsPlain, int8s(g.insMsgs), byteas(g.insData), nullInt8s(g.insRQ), int8s(g.insRSeq), int8s(g.insRDC), int8s(g.insRSched)).Exec(func(ct pgconn.CommandTag) error {
			if n := ct.RowsAffected(); n != int64(len(g.insMsgs)) {
				return fmt.Errorf("postgres: %d messages inserted of %d", n, len(g.insMsgs))
			}
			d.messages += int64(len(g.insMsgs))
			for i := range g.insData {
				d.bytes += int64(len(g.insData[i]))
				if g.insRQ[i].Valid {
					d.refs++
				}
			}
			return nil
		})
	} else if len(g.insMsgs) > 0 {
		b.Queue(sqlInsMsgs, int8s(g.insMsgs), byteas(g.insData), nullInt8s(g.insRQ), int8s(g.insRSeq), int8s(g.insRDC), int8s(g.insRSched)).QueryRow(func(row pgx.Row) error {
			var n, bytes, refs int64
			err := row.Scan(&n, &bytes, &refs)
			d.messages += n
			d.bytes += bytes
			d.refs += refs
			return err
		})
	}
	if len(g.insQ) > 0 && !g.upsert {
		b.Queue(sqlInsRefsPlain, int8s(g.insQ), int8s(g.insM), int8s(g.insSeq), int8s(g.insDC), int8s(g.insSched)).Exec(func(ct pgconn.CommandTag) error {
			d.refs += ct.RowsAffected()
			return nil
		})
	} else if len(g.insQ) > 0 {
		b.Queue(sqlInsRefs, int8s(g.insQ), int8s(g.insM), int8s(g.insSeq), int8s(g.insDC), int8s(g.insSched)).QueryRow(func(row pgx.Row) error {
			var n int64
			err := row.Scan(&n)
			d.refs += n
			return err
		})
	}
	if len(g.delBindK) > 0 {
		b.Queue(sqlDelBinds, g.delBindK, g.delBindKey).QueryRow(func(row pgx.Row) error {
			var n, bytes int64
			err := row.Scan(&n, &bytes)
			d.bindings -= n
			d.bytes -= bytes
			return err
		})
	}
	if len(g.insBindK) > 0 {
		b.Queue(sqlInsBinds, g.insBindK, g.insBindKey, g.insBindData).Exec(func(ct pgconn.CommandTag) error {
			d.bindings += ct.RowsAffected()
			for i := range g.insBindKey {
				d.bytes += int64(len(g.insBindKey[i]) + len(g.insBindData[i]))
			}
			return nil
		})
	}
	b.Queue("COMMIT").Exec(func(ct pgconn.CommandTag) error {
		// A transaction that failed earlier answers COMMIT with ROLLBACK.
		if ct.String() != "COMMIT" {
			return fmt.Errorf("postgres: the transaction ended with %q", ct.String())
		}
		return nil
	})
	ctx, cancel := context.WithTimeout(s.ctx, execTimeout)
	defer cancel()
	err := s.conn.SendBatch(ctx, b).Close()
	if err != nil && !s.conn.IsClosed() && s.conn.PgConn().TxStatus() != 'I' {
		rctx, rcancel := context.WithTimeout(context.Background(), 5*time.Second)
		if _, rerr := s.conn.Exec(rctx, "ROLLBACK"); rerr != nil {
			s.conn.Close(rctx)
		}
		rcancel()
	}
	return d, err
}
