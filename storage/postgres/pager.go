package postgres

import (
	"cmp"
	"context"
	"encoding/binary"
	"fmt"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/junctionmq/junction/storage"
)

// Paging (storage.Pager) keeps a paged reference as one row of
// junction_paged: the message's data and its reference to one queue. The
// row is written once (OpPageRef) and deleted once, when its message is
// deleted or the reference dropped: paging in (OpPageIn) moves nothing but
// the queue's mark in junction_paged_queues, one small row per queue and
// group. A row at or before its queue's mark is an ordinary message from
// then on, which the writer finds by the id the core gives (pagedIn): an
// OpAck, OpUpdateRef or OpDeleteMessage of it goes to its row rather than
// to junction_messages and junction_refs. The writer keeps in memory only
// what the core itself holds: the paged-in messages not yet deleted, and a
// mark per queue.

var _ storage.Pager = (*Store)(nil)

// pagedLoc is where a paged-in message's row is.
type pagedLoc struct {
	q, pos  uint64
	refLive bool // its reference to q is not acknowledged yet
}

// pagedTouch is what one group did to a paged-in message's row.
type pagedTouch struct {
	q, pos    uint64
	deleted   bool // the message is gone: delete the row
	died      bool // the reference is gone, the message stays
	updated   bool
	dc, sched int64
}

// pageGroup is the paging part of a group under construction.
type pageGroup struct {
	marks      map[uint64]int64 // queue -> the mark this group moves it to
	markOrder  []uint64
	touched    map[uint64]*pagedTouch
	touchOrder []uint64
}

func (pg *pageGroup) mark(q uint64, to int64) {
	if _, ok := pg.marks[q]; !ok {
		pg.markOrder = append(pg.markOrder, q)
	}
	pg.marks[q] = to
}

func (pg *pageGroup) touch(m uint64, loc *pagedLoc) *pagedTouch {
	t, ok := pg.touched[m]
	if !ok {
		t = &pagedTouch{q: loc.q, pos: loc.pos}
		pg.touched[m] = t
		pg.touchOrder = append(pg.touchOrder, m)
	}
	return t
}

// pageOp handles op if it is a paging op or concerns a paged-in message,
// and reports whether it did. It runs on the writer, in op order.
func (s *Store) pageOp(g *group, pg *pageGroup, op *storage.Op) bool {
	switch op.Kind {
	case storage.OpPageRef:
		s.nextSeq++
		g.pgQ, g.pgPos, g.pgM = append(g.pgQ, int64(op.QueueID)), append(g.pgPos, s.nextSeq), append(g.pgM, int64(op.MsgID))
		g.pgDC, g.pgSched = append(g.pgDC, int64(op.DeliveryCount)), append(g.pgSched, op.ScheduledAt)
		g.pgData = append(g.pgData, nonNil(op.Data))
		return true
	case storage.OpPageIn:
		pos := int64(op.Pos)
		if pos <= s.marks[op.QueueID] {
			return true // paged in already (a repeated op)
		}
		s.marks[op.QueueID] = pos
		pg.mark(op.QueueID, pos)
		s.pagedIn[op.MsgID] = &pagedLoc{q: op.QueueID, pos: op.Pos, refLive: true}
		g.dMessages++
		g.dRefs++
		return true
	case storage.OpPageDrop:
		// A position past every one given covers the queue's whole
		// backlog, and none of the references paged after this op.
		hi := s.nextSeq
		if op.Pos < uint64(hi) {
			hi = int64(op.Pos)
		}
		lo := s.marks[op.QueueID]
		if hi > lo {
			g.dropQ, g.dropLo, g.dropHi = append(g.dropQ, int64(op.QueueID)), append(g.dropLo, lo), append(g.dropHi, hi)
			s.marks[op.QueueID] = hi
			pg.mark(op.QueueID, hi)
		}
		return true
	case storage.OpAck:
		loc, ok := s.pagedIn[op.MsgID]
		if !ok || loc.q != op.QueueID {
			return false
		}
		if loc.refLive {
			loc.refLive = false
			pg.touch(op.MsgID, loc).died = true
			g.dRefs--
		}
		return true
	case storage.OpUpdateRef:
		loc, ok := s.pagedIn[op.MsgID]
		if !ok || loc.q != op.QueueID {
			return false
		}
		if loc.refLive {
			t := pg.touch(op.MsgID, loc)
			t.updated, t.dc, t.sched = true, int64(op.DeliveryCount), op.ScheduledAt
		}
		return true
	case storage.OpDeleteMessage:
		loc, ok := s.pagedIn[op.MsgID]
		if !ok {
			return false
		}
		pg.touch(op.MsgID, loc).deleted = true
		if loc.refLive {
			g.dRefs--
		}
		g.dMessages--
		delete(s.pagedIn, op.MsgID)
		return true
	}
	return false
}

// pageFinish turns what pageOp gathered into g's arrays.
func (s *Store) pageFinish(g *group, pg *pageGroup) {
	for _, q := range pg.markOrder {
		g.markQ, g.markTo = append(g.markQ, int64(q)), append(g.markTo, pg.marks[q])
	}
	for _, m := range pg.touchOrder {
		t := pg.touched[m]
		switch {
		case t.deleted:
			g.pdelQ, g.pdelPos = append(g.pdelQ, int64(t.q)), append(g.pdelPos, int64(t.pos))
		case t.died:
			g.pdeadQ, g.pdeadPos = append(g.pdeadQ, int64(t.q)), append(g.pdeadPos, int64(t.pos))
		case t.updated:
			g.pupdQ, g.pupdPos = append(g.pupdQ, int64(t.q)), append(g.pupdPos, int64(t.pos))
			g.pupdDC, g.pupdSch = append(g.pupdDC, t.dc), append(g.pupdSch, t.sched)
		}
	}
}

func (g *group) paging() bool {
	return len(g.pgQ)+len(g.markQ)+len(g.dropQ)+len(g.pdelQ)+len(g.pdeadQ)+len(g.pupdQ) > 0
}

const (
	// Inserting counts the fresh rows into their queues' totals in the
	// same statement, so a group retried after a commit whose outcome was
	// lost counts nothing twice.
	sqlInsPaged = `WITH i AS (INSERT INTO junction_paged (queue_id, pos, msg_id, delivery_count, scheduled_at, size, data)
SELECT q, p, m, dc, s, octet_length(d), d FROM unnest($1::int8[], $2::int8[], $3::int8[], $4::int8[], $5::int8[], $6::bytea[]) AS u(q, p, m, dc, s, d)
ON CONFLICT (queue_id, pos) DO NOTHING RETURNING queue_id, pos, size),
a AS (SELECT queue_id, count(*) AS n, sum(size)::int8 AS b, max(pos) AS mx FROM i GROUP BY queue_id),
u AS (INSERT INTO junction_paged_queues AS pq (queue_id, maxpos, count, bytes) SELECT queue_id, mx, n, b FROM a
ON CONFLICT (queue_id) DO UPDATE SET maxpos = greatest(pq.maxpos, excluded.maxpos), count = pq.count + excluded.count, bytes = pq.bytes + excluded.bytes)
SELECT coalesce(sum(n), 0)::int8, coalesce(sum(b), 0)::int8 FROM a`
	// Moving a mark takes the rows it passes (paged in or dropped) out
	// of the queue's totals; the database's own mark makes it idempotent.
	// The count is a lateral subquery so that both ends of the range are
	// index bounds: a join condition on the old mark was only a filter,
	// and the count read every row from the queue's first to the mark.
	sqlMarkPaged = `WITH u AS (SELECT * FROM unnest($1::int8[], $2::int8[]) AS u(q, mark)),
s AS (SELECT u.q, u.mark, c.n, c.b FROM u JOIN junction_paged_queues pq ON pq.queue_id = u.q AND pq.mark < u.mark
CROSS JOIN LATERAL (SELECT count(*) AS n, coalesce(sum(p.size), 0)::int8 AS b FROM junction_paged p
WHERE p.queue_id = u.q AND p.pos > pq.mark AND p.pos <= u.mark) c),
up AS (UPDATE junction_paged_queues pq SET mark = s.mark, count = pq.count - s.n, bytes = pq.bytes - s.b FROM s WHERE pq.queue_id = s.q)
SELECT coalesce(sum(n), 0)::int8 FROM s`
	// One statement per range, with scalar bounds: joined to unnest(),
	// the planner took a range for a fraction of the table and scanned it
	// whole. Drops are rare (purge, delete, an undecodable record).
	sqlDropPaged = `WITH d AS (DELETE FROM junction_paged WHERE queue_id = $1 AND pos > $2 AND pos <= $3 RETURNING size)
SELECT coalesce(sum(size), 0)::int8 FROM d`
	sqlDelPagedIn = `WITH d AS (DELETE FROM junction_paged p USING unnest($1::int8[], $2::int8[]) AS u(q, pos)
WHERE p.queue_id = u.q AND p.pos = u.pos RETURNING p.size) SELECT coalesce(sum(size), 0)::int8 FROM d`
	sqlDeadPagedIn = `UPDATE junction_paged p SET ref_live = false FROM unnest($1::int8[], $2::int8[]) AS u(q, pos)
WHERE p.queue_id = u.q AND p.pos = u.pos`
	sqlUpdPagedIn = `UPDATE junction_paged p SET delivery_count = u.dc, scheduled_at = u.s
FROM unnest($1::int8[], $2::int8[], $3::int8[], $4::int8[]) AS u(q, pos, dc, s) WHERE p.queue_id = u.q AND p.pos = u.pos`
)

// queuePaging adds g's paging statements to b, in the order that keeps the
// totals exact: rows inserted, then marks moved (counting rows inserted in
// this group that a drop covers), then rows deleted.
func (s *Store) queuePaging(b *pgx.Batch, g *group, d *deltas) {
	d.messages += g.dMessages
	d.refs += g.dRefs
	if len(g.pgQ) > 0 {
		b.Queue(sqlInsPaged, g.pgQ, g.pgPos, g.pgM, g.pgDC, g.pgSched, g.pgData).QueryRow(func(row pgx.Row) error {
			var n, bytes int64
			err := row.Scan(&n, &bytes)
			d.paged += n
			d.bytes += bytes
			return err
		})
	}
	if len(g.markQ) > 0 {
		b.Queue(sqlMarkPaged, g.markQ, g.markTo).QueryRow(func(row pgx.Row) error {
			var n int64
			err := row.Scan(&n)
			d.paged -= n
			return err
		})
	}
	// bytesGone takes off the bytes of paged rows a statement removed.
	bytesGone := func(row pgx.Row) error {
		var bytes int64
		err := row.Scan(&bytes)
		d.bytes -= bytes
		return err
	}
	for i := range g.dropQ {
		b.Queue(sqlDropPaged, g.dropQ[i], g.dropLo[i], g.dropHi[i]).QueryRow(bytesGone)
	}
	if len(g.pdelQ) > 0 {
		b.Queue(sqlDelPagedIn, g.pdelQ, g.pdelPos).QueryRow(bytesGone)
	}
	if len(g.pdeadQ) > 0 {
		b.Queue(sqlDeadPagedIn, g.pdeadQ, g.pdeadPos)
	}
	if len(g.pupdQ) > 0 {
		b.Queue(sqlUpdPagedIn, g.pupdQ, g.pupdPos, g.pupdDC, g.pupdSch)
	}
}

// ReadPaged implements storage.Pager with one indexed range query on a
// connection of its own (the writer's is busy committing), so reading a
// queue back never waits for a commit nor delays one.
func (s *Store) ReadPaged(q uint64, after uint64, max int, fn func(p storage.PagedRef) error) error {
	if max <= 0 {
		return nil
	}
	s.rmu.Lock()
	defer s.rmu.Unlock()
	s.qmu.Lock()
	closing := s.closing
	s.qmu.Unlock()
	if closing {
		return storage.ErrClosed
	}
	ctx, cancel := context.WithTimeout(s.ctx, execTimeout)
	defer cancel()
	if s.rconn == nil || s.rconn.IsClosed() {
		conn, err := pgx.ConnectConfig(ctx, s.cfg)
		if err != nil {
			return fmt.Errorf("%w: reading paged references: connecting: %w", ErrUnavailable, err)
		}
		s.rconn = conn
	}
	var fnErr error
	err := s.readPaged(ctx, q, after, max, func(p storage.PagedRef) error {
		fnErr = fn(p)
		return fnErr
	})
	if err != nil && fnErr == nil {
		s.rconn.Close(context.Background())
		s.rconn = nil
		if transient(err) {
			err = fmt.Errorf("%w: %w", ErrUnavailable, err)
		}
	}
	return err
}

const sqlLoadPagedIn = `SELECT p.queue_id, p.pos, p.msg_id, p.delivery_count, p.scheduled_at, p.ref_live, p.data
FROM junction_paged_queues q CROSS JOIN LATERAL (SELECT * FROM junction_paged p
WHERE p.queue_id = q.queue_id AND p.pos <= q.mark ORDER BY p.pos) p`

const sqlReadPaged = `SELECT pos, msg_id, delivery_count, scheduled_at, data FROM junction_paged
WHERE queue_id = $1 AND pos > greatest($2, coalesce((SELECT mark FROM junction_paged_queues WHERE queue_id = $1), 0))
ORDER BY pos LIMIT $3`

func (s *Store) readPaged(ctx context.Context, q, after uint64, max int, fn func(p storage.PagedRef) error) error {
	rows, err := s.rconn.Query(ctx, sqlReadPaged, int64(q), int64(after), int64(max))
	if err != nil {
		return fmt.Errorf("postgres: reading paged references: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		v := rows.RawValues()
		if len(v) != 5 || len(v[0]) != 8 || len(v[1]) != 8 || len(v[2]) != 8 || len(v[3]) != 8 || v[4] == nil {
			return fmt.Errorf("postgres: reading paged references: unexpected row %x", v)
		}
		p := storage.PagedRef{
			Pos:           binary.BigEndian.Uint64(v[0]),
			MsgID:         binary.BigEndian.Uint64(v[1]),
			DeliveryCount: uint32(binary.BigEndian.Uint64(v[2])),
			ScheduledAt:   int64(binary.BigEndian.Uint64(v[3])),
			Data:          v[4],
		}
		if err := fn(p); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("postgres: reading paged references: %w", err)
	}
	return nil
}

// pagedRef is a paged-in reference Load reports among the ordinary ones.
type pagedRef struct {
	q, m, pos uint64
	dc        uint32
	sched     int64
}

type pagedQueue struct {
	q            uint64
	count, bytes int64
}

// loadPaging reads the queues' marks and totals (not their rows), and the
// paged-in messages, which it reports to r as messages. It returns their
// live references, by position, for Load to merge with the ordinary ones,
// and the queues to report to PagedRecovery.
func (s *Store) loadPaging(ctx context.Context, tx pgx.Tx, r storage.Recovery, nm, size *int64) ([]pagedRef, []pagedQueue, error) {
	var queues []pagedQueue
	rows, _ := tx.Query(ctx, "SELECT queue_id, mark, maxpos, count, bytes FROM junction_paged_queues")
	for rows.Next() {
		var q, mark, maxpos, count, bytes int64
		if err := rows.Scan(&q, &mark, &maxpos, &count, &bytes); err != nil {
			return nil, nil, fmt.Errorf("postgres: loading paged queues: %w", err)
		}
		s.marks[uint64(q)] = mark
		s.nextSeq = max(s.nextSeq, maxpos)
		if count > 0 {
			queues = append(queues, pagedQueue{uint64(q), count, bytes})
			s.paged.Add(count)
			*size += bytes
		}
	}
	if err := rows.Err(); err != nil {
		return nil, nil, fmt.Errorf("postgres: loading paged queues: %w", err)
	}
	if len(queues) > 0 {
		if _, ok := r.(storage.PagedRecovery); !ok {
			return nil, nil, fmt.Errorf("postgres: the store holds paged references of %d queues and the broker cannot take them (no PagedRecovery)", len(queues))
		}
	}
	var refs []pagedRef
	// Per queue an index range up to its mark, ORDER BY making the index
	// the plan (a join, or the planner's guess that a third of the table
	// is at or below the mark, made it scan the whole table, paged tails
	// included); the queues' rows are merged by position here.
	rows, _ = tx.Query(ctx, sqlLoadPagedIn)
	for rows.Next() {
		var q, pos, m, dc, sched int64
		var live bool
		var data []byte
		if err := rows.Scan(&q, &pos, &m, &dc, &sched, &live, &data); err != nil {
			return nil, nil, fmt.Errorf("postgres: loading paged-in messages: %w", err)
		}
		if data == nil {
			data = []byte{}
		}
		if err := r.Message(uint64(m), data); err != nil {
			rows.Close()
			return nil, nil, err
		}
		*nm++
		*size += int64(len(data))
		s.pagedIn[uint64(m)] = &pagedLoc{q: uint64(q), pos: uint64(pos), refLive: live}
		if live {
			refs = append(refs, pagedRef{q: uint64(q), m: uint64(m), pos: uint64(pos), dc: uint32(dc), sched: sched})
		}
	}
	if err := rows.Err(); err != nil {
		return nil, nil, fmt.Errorf("postgres: loading paged-in messages: %w", err)
	}
	slices.SortFunc(refs, func(a, b pagedRef) int { return cmp.Compare(a.pos, b.pos) })
	return refs, queues, nil
}

// closeReader closes ReadPaged's connection.
func (s *Store) closeReader() {
	s.rmu.Lock()
	defer s.rmu.Unlock()
	if s.rconn != nil {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		s.rconn.Close(ctx)
		cancel()
		s.rconn = nil
	}
}
