// Package postgres is a storage.Store kept in a PostgreSQL database, for
// brokers whose operators already run (and back up, replicate and monitor)
// PostgreSQL, and for shared-store high availability: brokers pointing at
// one database take turns through a session advisory lock, and every write
// transaction checks the holder's epoch so that a broker that lost the lock
// writes nothing more.
//
// One goroutine owns one connection. Apply queues; the writer takes
// everything queued at that moment, nets it (an ack cancels the reference
// added in the same group, and so on) and sends it as one transaction in
// one pipelined round trip: array-parameter statements, BEGIN and COMMIT in
// a single pgx batch. Every done of the group runs after COMMIT returns.
package postgres

import (
	"bytes"
	"cmp"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/junctionmq/junction/storage"
)

// Errors reported by Health and done.
var (
	// ErrUnavailable wraps the cause while the database cannot be written;
	// the store reconnects and resumes by itself.
	ErrUnavailable = errors.New("postgres: database unavailable")
	// ErrFenced means another broker took the store lock over: this one's
	// view of the store is stale, it writes nothing more, and it must stop
	// serving. It lasts until the store is reopened.
	ErrFenced = errors.New("postgres: fenced: another broker holds the store")
	// ErrLocked is returned by Open when another broker holds the store
	// and Options.Wait is false.
	ErrLocked = errors.New("postgres: another broker holds the store lock (configure ha.role live-or-backup to wait for it)")
	// ErrNotLoaded is returned by Apply before Load.
	ErrNotLoaded = errors.New("postgres: store not loaded yet")
)

// lockKey is the session advisory lock the serving broker holds.
const lockKey int64 = 0x4a756e6374696f6e // "Junction"

const (
	// Pressure is reported past this many outstanding Apply calls or
	// bytes, and cleared under a quarter of both (as the journal does).
	pressureRequests = 16384
	pressureBytes    = 64 << 20
	// A group (one transaction) takes at most this many ops or bytes; the
	// rest waits for the next.
	maxGroupOps   = 65536
	maxGroupBytes = 16 << 20
	// idleCheck is how often an idle writer checks its connection and
	// epoch, so a lost database or a takeover is noticed without traffic.
	idleCheck = time.Second
	// Reconnection backoff.
	minBackoff = 50 * time.Millisecond
	maxBackoff = 2 * time.Second
)

// Options configure Open.
type Options struct {
	// URL is a libpq connection string or URL (postgres://user@host/db).
	URL string
	// Wait makes Open wait for the store lock while another broker holds
	// it (a backup), instead of failing with ErrLocked.
	Wait bool
	// Holder names this broker in junction_holder (default host:pid).
	Holder string
	// Logger (default slog.Default()).
	Logger *slog.Logger
	// OnWaiting, when set, is called once if Open finds the lock taken
	// and starts waiting for it.
	OnWaiting func()
}

// Store is a PostgreSQL storage.Store. Open it, Load it once, then Apply
// from any goroutine; Close it when done.
type Store struct {
	storage.Notifier
	opts   Options
	log    *slog.Logger
	cfg    *pgx.ConnConfig
	schema int

	// Owned by the writer once Load has started it (Load's before).
	conn      *pgx.Conn
	epoch     int64
	nextSeq   int64
	retryAt   time.Time
	backoff   time.Duration
	downSince time.Time        // when the database went away; zero while it is there
	marks     map[uint64]int64 // queue -> paged-in mark (pager.go)
	// ext holds the references kept as rows of junction_refs; every
	// other live reference is inline, in its message's row (schema 3).
	// Most messages have one reference, inline, so this stays small.
	ext     map[refKey]struct{}
	scratch scratch              // group's reusable maps and arrays
	pagedIn map[uint64]*pagedLoc // paged-in messages not deleted, by id

	rmu   sync.Mutex // ReadPaged's connection
	rconn *pgx.Conn

	ctx    context.Context // cancelled by Close once the writer must give up
	cancel context.CancelFunc

	lifeMu  sync.Mutex // serialises Load and Close
	loaded  bool
	stopped chan struct{} // closed when the writer exits

	qmu              sync.Mutex
	pending          []request
	qerr             error // non-nil: Apply fails at once with it
	closing          bool
	wake             chan struct{}
	outstanding      int
	outstandingBytes int
	pressure         atomic.Bool
	// Group commit's patience (awaitGroup): synced requests queued, how
	// many the last group held, and while the writer waits for as many,
	// that target.
	pendingSync int
	lastGroup   int
	delayTarget int
	commitAvg   atomic.Int64 // nanoseconds, moving average (writer)

	messages, refs, bindings, bytes, paged atomic.Int64
	applies, syncs, errs                   atomic.Uint64
	lastSync                               atomic.Int64
}

var _ storage.Store = (*Store)(nil)

type request struct {
	ops  []storage.Op
	sync bool
	size int
	done func(error)
}

func connConfig(url string) (*pgx.ConnConfig, error) {
	cfg, err := pgx.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("postgres: store.url: %w", err)
	}
	if cfg.ConnectTimeout == 0 {
		cfg.ConnectTimeout = 5 * time.Second
	}
	if _, ok := cfg.RuntimeParams["application_name"]; !ok {
		cfg.RuntimeParams["application_name"] = "junction"
	}
	// The server must notice a dead broker within seconds, not the
	// kernel's two hours: its session's end is what frees the store lock
	// for a backup.
	//
	// The writer's statements find their rows by key, a few hundred per
	// group: an index probe each. The planner, going by statistics that
	// count the live rows of a queue that drains as fast as it fills,
	// took a sequential scan and a hash join for the deletes, which read
	// every dead row of the table once per group (the database's CPU per
	// message tripled within 200,000 messages, before autovacuum came).
	// So the store's sessions plan without them; Load turns them back on
	// for its whole-table reads.
	for k, v := range map[string]string{"tcp_keepalives_idle": "5", "tcp_keepalives_interval": "2", "tcp_keepalives_count": "3",
		"enable_seqscan": "off", "enable_hashjoin": "off", "enable_mergejoin": "off"} {
		if _, ok := cfg.RuntimeParams[k]; !ok {
			cfg.RuntimeParams[k] = v
		}
	}
	return cfg, nil
}

// Open connects, migrates the schema, takes the store lock (waiting for it
// when opts.Wait) and starts a new epoch. The store is then ready for Load.
func Open(ctx context.Context, opts Options) (*Store, error) {
	cfg, err := connConfig(opts.URL)
	if err != nil {
		return nil, err
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Holder == "" {
		host, _ := os.Hostname()
		opts.Holder = fmt.Sprintf("%s:%d", host, os.Getpid())
	}
	s := &Store{opts: opts, log: opts.Logger, cfg: cfg, qerr: ErrNotLoaded, wake: make(chan struct{}, 1),
		stopped: make(chan struct{}), backoff: minBackoff, marks: map[uint64]int64{}, pagedIn: map[uint64]*pagedLoc{}, ext: map[refKey]struct{}{}}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	ok := false
	defer func() {
		if !ok {
			s.cancel()
			if s.conn != nil {
				s.conn.Close(context.Background())
			}
		}
	}()
	for {
		err := s.take(ctx)
		if err == nil {
			break
		}
		if !opts.Wait || ctx.Err() != nil || errors.Is(err, ErrSchemaTooNew) || errors.Is(err, ErrLocked) {
			return nil, err
		}
		// A backup outlives database restarts while it waits.
		s.log.Warn("waiting for the store: database unavailable", "err", err)
		if s.conn != nil {
			s.conn.Close(context.Background())
			s.conn = nil
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(time.Second):
		}
	}
	ok = true
	return s, nil
}

// take connects, migrates, takes the lock and a new epoch.
func (s *Store) take(ctx context.Context) error {
	conn, err := pgx.ConnectConfig(ctx, s.cfg)
	if err != nil {
		return fmt.Errorf("postgres: connecting: %w", err)
	}
	s.conn = conn
	if err := fastArrays(conn); err != nil {
		return err
	}
	from, to, err := migrate(ctx, conn)
	if err != nil {
		return err
	}
	if from != to {
		s.log.Info("store schema migrated", "from", from, "to", to)
	}
	s.schema = to
	var got bool
	// A broker that just stopped or died may leave a session the server
	// has not ended yet: a short grace before calling the lock taken.
	for try := 0; ; try++ {
		if err := conn.QueryRow(ctx, "SELECT pg_try_advisory_lock($1)", lockKey).Scan(&got); err != nil {
			return fmt.Errorf("postgres: store lock: %w", err)
		}
		if got || s.opts.Wait || try == 20 {
			break
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
	if !got {
		if !s.opts.Wait {
			var holder string
			_ = conn.QueryRow(ctx, "SELECT holder FROM junction_holder WHERE id = 1").Scan(&holder)
			return fmt.Errorf("%w (last holder %q)", ErrLocked, holder)
		}
		if s.opts.OnWaiting != nil {
			s.opts.OnWaiting()
			s.opts.OnWaiting = nil
		}
		// Blocks until the holder's session ends; ctx cancels it.
		if _, err := conn.Exec(ctx, "SELECT pg_advisory_lock($1)", lockKey); err != nil {
			return fmt.Errorf("postgres: waiting for the store lock: %w", err)
		}
	}
	if err := conn.QueryRow(ctx, "UPDATE junction_holder SET epoch = epoch + 1, holder = $1, taken_at = now() WHERE id = 1 RETURNING epoch",
		s.opts.Holder).Scan(&s.epoch); err != nil {
		return fmt.Errorf("postgres: starting an epoch: %w", err)
	}
	return nil
}

// Schema is the schema version the database is at.
func (s *Store) Schema() int { return s.schema }

// Epoch is the holder epoch this store writes under.
func (s *Store) Epoch() int64 { return s.epoch }

// Load implements storage.Store: bindings, messages, then references in the
// order they were added, each streamed by one query. It then starts the
// writer.
func (s *Store) Load(ctx context.Context, r storage.Recovery) error {
	s.lifeMu.Lock()
	defer s.lifeMu.Unlock()
	if s.loaded {
		return errors.New("postgres: Load called twice")
	}
	s.qmu.Lock()
	closing := s.closing
	s.qmu.Unlock()
	if closing {
		return storage.ErrClosed
	}
	if err := s.load(ctx, r); err != nil {
		return err
	}
	s.loaded = true
	s.qmu.Lock()
	s.qerr = nil
	s.qmu.Unlock()
	go s.run()
	s.Changed()
	return nil
}

func (s *Store) load(ctx context.Context, r storage.Recovery) error {
	// One repeatable-read snapshot, though nothing else writes: the lock
	// is ours.
	tx, err := s.conn.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		return fmt.Errorf("postgres: load: %w", err)
	}
	defer func() { _ = tx.Rollback(context.Background()) }()
	for _, p := range []string{"enable_seqscan", "enable_hashjoin", "enable_mergejoin"} {
		if _, err := tx.Exec(ctx, "SET LOCAL "+p+" = on"); err != nil {
			return fmt.Errorf("postgres: load: %w", err)
		}
	}
	var nb, nm, nr, size int64
	rows, _ := tx.Query(ctx, "SELECT kind, key, data FROM junction_bindings")
	for rows.Next() {
		var kind int16
		var key, data []byte
		if err := rows.Scan(&kind, &key, &data); err != nil {
			return fmt.Errorf("postgres: loading bindings: %w", err)
		}
		if err := r.Binding(storage.BindingKind(kind), string(key), data); err != nil {
			rows.Close()
			return err
		}
		nb++
		size += int64(len(key) + len(data))
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("postgres: loading bindings: %w", err)
	}
	pagedRefs, pagedQueues, err := s.loadPaging(ctx, tx, r, &nm, &size)
	if err != nil {
		return err
	}
	// The two big queries are read from the rows' binary values directly:
	// a scan through pgx's type machinery costs more than the database
	// takes to send them. A message's inline reference joins the paged-in
	// ones, to be merged by sequence with the rows of junction_refs.
	rows, _ = tx.Query(ctx, "SELECT id, data, ref_queue, ref_seq, ref_dc, ref_sched FROM junction_messages")
	inlined := 0
	for rows.Next() {
		v := rows.RawValues()
		if len(v) != 6 || len(v[0]) != 8 || v[1] == nil {
			rows.Close()
			return fmt.Errorf("postgres: loading messages: unexpected row %x", v)
		}
		id := binary.BigEndian.Uint64(v[0])
		data := bytes.Clone(v[1])
		if data == nil {
			data = []byte{}
		}
		if err := r.Message(id, data); err != nil {
			rows.Close()
			return err
		}
		nm++
		size += int64(len(data))
		if v[2] != nil {
			if len(v[2]) != 8 || len(v[3]) != 8 || len(v[4]) != 8 || len(v[5]) != 8 {
				rows.Close()
				return fmt.Errorf("postgres: loading messages: unexpected inline reference %x", v[2:])
			}
			seq := binary.BigEndian.Uint64(v[3])
			pagedRefs = append(pagedRefs, pagedRef{q: binary.BigEndian.Uint64(v[2]), m: id, pos: seq,
				dc: uint32(binary.BigEndian.Uint64(v[4])), sched: int64(binary.BigEndian.Uint64(v[5]))})
			s.nextSeq = max(s.nextSeq, int64(seq))
			inlined++
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("postgres: loading messages: %w", err)
	}
	if inlined > 0 {
		slices.SortFunc(pagedRefs, func(a, b pagedRef) int { return cmp.Compare(a.pos, b.pos) })
	}
	rows, _ = tx.Query(ctx, "SELECT queue_id, msg_id, delivery_count, scheduled_at, seq FROM junction_refs ORDER BY seq")
	for rows.Next() {
		v := rows.RawValues()
		if len(v) != 5 {
			rows.Close()
			return fmt.Errorf("postgres: loading references: unexpected row %x", v)
		}
		var n [5]int64
		for i := range n {
			if len(v[i]) != 8 {
				rows.Close()
				return fmt.Errorf("postgres: loading references: unexpected row %x", v)
			}
			n[i] = int64(binary.BigEndian.Uint64(v[i]))
		}
		q, m, dc, sched, seq := n[0], n[1], n[2], n[3], n[4]
		// Paged-in and inline references take their places by position,
		// which counts from the same sequence as seq.
		for len(pagedRefs) > 0 && pagedRefs[0].pos < uint64(seq) {
			p := pagedRefs[0]
			pagedRefs = pagedRefs[1:]
			if err := r.Ref(p.q, p.m, p.dc, p.sched); err != nil {
				rows.Close()
				return err
			}
			nr++
		}
		if err := r.Ref(uint64(q), uint64(m), uint32(dc), sched); err != nil {
			rows.Close()
			return err
		}
		s.ext[refKey{uint64(q), uint64(m)}] = struct{}{}
		nr++
		s.nextSeq = max(s.nextSeq, seq)
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("postgres: loading references: %w", err)
	}
	for _, p := range pagedRefs {
		if err := r.Ref(p.q, p.m, p.dc, p.sched); err != nil {
			return err
		}
		nr++
	}
	for _, pq := range pagedQueues {
		if err := r.(storage.PagedRecovery).Paged(pq.q, pq.count, pq.bytes); err != nil {
			return err
		}
	}
	s.bindings.Store(nb)
	s.messages.Store(nm)
	s.refs.Store(nr)
	s.bytes.Store(size)
	return nil
}

// Apply implements storage.Store: it queues and returns; done runs on the
// writer once the transaction holding the ops committed. Unsynced ops
// commit with synchronous_commit off when a whole group is unsynced.
func (s *Store) Apply(ops []storage.Op, sync bool, done func(error)) {
	if done == nil {
		done = func(error) {}
	}
	size := 0
	for i := range ops {
		size += len(ops[i].Data) + len(ops[i].Key) + 32
	}
	s.qmu.Lock()
	if err := s.qerr; err != nil {
		s.qmu.Unlock()
		s.errs.Add(1)
		done(err)
		return
	}
	if len(ops) == 0 {
		s.qmu.Unlock()
		s.applies.Add(1)
		done(nil)
		return
	}
	s.pending = append(s.pending, request{ops: ops, sync: sync, size: size, done: done})
	if sync {
		s.pendingSync++
	}
	s.outstanding++
	s.outstandingBytes += size
	pressed := false
	if (s.outstanding >= pressureRequests || s.outstandingBytes >= pressureBytes) && !s.pressure.Load() {
		s.pressure.Store(true)
		pressed = true
	}
	wake := len(s.pending) == 1 || (s.delayTarget > 0 && s.pendingSync >= s.delayTarget)
	s.qmu.Unlock()
	if wake {
		select {
		case s.wake <- struct{}{}:
		default:
		}
	}
	if pressed {
		s.Changed()
	}
}

// Health implements storage.Store.
func (s *Store) Health() error {
	s.qmu.Lock()
	defer s.qmu.Unlock()
	if errors.Is(s.qerr, ErrNotLoaded) {
		return nil
	}
	return s.qerr
}

// Pressure implements storage.Store.
func (s *Store) Pressure() bool { return s.pressure.Load() }

// Stats implements storage.Store. Bytes counts the message and binding
// data held, not the tables' size on disk.
func (s *Store) Stats() storage.Stats {
	s.qmu.Lock()
	pending := s.outstanding
	unavailable := s.qerr
	s.qmu.Unlock()
	if errors.Is(unavailable, ErrNotLoaded) {
		unavailable = nil
	}
	return storage.Stats{
		Messages: int(s.messages.Load()), Refs: int(s.refs.Load()), Paged: s.paged.Load(), Bindings: int(s.bindings.Load()), Bytes: s.bytes.Load(),
		Pending: pending, Applies: s.applies.Load(), Syncs: s.syncs.Load(), LastSync: time.Duration(s.lastSync.Load()),
		Errors: s.errs.Load(), Pressure: s.pressure.Load(), Unavailable: unavailable,
	}
}

// Close implements storage.Store: it writes what is queued (unless the
// database is away: then what is queued fails), releases the lock by
// closing the session, and makes later calls fail with ErrClosed.
func (s *Store) Close() error {
	s.lifeMu.Lock()
	defer s.lifeMu.Unlock()
	s.qmu.Lock()
	if s.closing {
		s.qmu.Unlock()
		return nil
	}
	s.closing = true
	healthy := s.qerr == nil
	if s.qerr == nil || errors.Is(s.qerr, ErrNotLoaded) {
		s.qerr = storage.ErrClosed
	}
	s.qmu.Unlock()
	if !healthy {
		// Reconnection attempts and their backoff stop at once.
		s.cancel()
	}
	select {
	case s.wake <- struct{}{}:
	default:
	}
	var err error
	if s.loaded {
		<-s.stopped
	}
	s.cancel()
	s.closeReader()
	if s.conn != nil {
		// Unlocking first hands the store to a waiting backup at once,
		// rather than when the server notices the session ended.
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		_, _ = s.conn.Exec(ctx, "SELECT pg_advisory_unlock($1)", lockKey)
		cancel()
		err = s.conn.Close(context.Background())
		s.conn = nil
	}
	s.qmu.Lock()
	fenced := errors.Is(s.qerr, ErrFenced)
	s.qerr = storage.ErrClosed
	s.qmu.Unlock()
	s.Changed()
	if fenced {
		return nil
	}
	if err != nil {
		return fmt.Errorf("postgres: closing: %w", err)
	}
	return nil
}
