// Package journal is the broker's embedded store: an append-only journal of
// fixed-size segment files with group commit, crash recovery and background
// compaction. It implements storage.Store.
//
// Layout of a data folder: JOURNAL (format file), LOCK (flock held while
// open), segments "%016x.seg" named by sequence number, and pooled free
// segments "free-*.seg" that are reused for new segments. The record format
// is described in format.go; the reclaim rule in index.go.
//
// Goroutines: Apply only enqueues, and never waits: past a high-water mark
// of outstanding requests the journal reports Pressure (the broker then
// withholds producer credit) until the writer has caught up. One writer goroutine owns the active
// segment and the index: it drains the queue, writes each group of requests
// as one record with one write() and one fdatasync, then calls their done
// callbacks. A background goroutine prepares the next segment (so rollover
// does not wait on the disk) and frees dead segments; a compactor goroutine
// reads old segments and feeds their live records back to the writer as copy
// requests, in chunks that interleave with producers' requests.
//
// Recovery: Load replays the segments in sequence order. A torn write at the
// end of the newest segment (a record failing its checks, followed by
// nothing valid) is cut off with a warning; a bad record anywhere else (a
// sealed segment, or with valid records after it) fails Load with a
// *CorruptError naming file and offset, unless Options.Repair is set. A crash
// (kill -9) can only leave the former: each group is one write of one record,
// and a group is synced before the next is written (except under the never
// policy, where a power loss may leave holes that need Repair).
//
// The package needs Unix (flock, mmap); fdatasync is used on Linux.
package journal

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/junctionmq/junction/storage"
)

// Options configures a Journal. The zero value is valid.
type Options struct {
	// SegmentSize is the size of each segment file (default 32 MiB, minimum
	// MinSegmentSize). An Apply larger than a segment gets a segment of its
	// own, grown to fit.
	SegmentSize int64
	// SyncPolicy is storage.SyncAlways, storage.SyncBatch (default) or
	// storage.SyncNever.
	SyncPolicy string
	// CompactLiveRatio: a sealed segment whose live bytes fall below this
	// fraction of its data is compacted. 0 means the default, 0.3; a negative
	// value disables compaction (empty segments are still freed).
	CompactLiveRatio float64
	// Repair lets Load skip damage in the middle of the journal (losing the
	// damaged records, with an error logged) instead of refusing to start.
	Repair bool
	// Logger receives recovery and failure reports (default slog.Default()).
	Logger *slog.Logger

	hooks *hooks // tests: fault injection and crash snapshots
}

const (
	defaultCompactRatio = 0.3
	// Pressure is reported once this many Apply calls, or this many bytes,
	// are outstanding (accepted and not yet done), and cleared when the
	// writer has brought both under a quarter of it. 16,384 requests are
	// about one second of group-committed sends on a slow disk.
	pressureRequests = 16384
	pressureBytes    = 64 << 20
	// maxGroupBytes bounds one group's record, so that one write stays short.
	maxGroupBytes = 4 << 20
	// maxPool is how many freed segments are kept for reuse.
	maxPool = 3
	// compactChunk bounds the copy bytes the compactor hands the writer at once.
	compactChunk = 256 << 10
	// A compaction pass covers at most this many segments and bytes.
	maxCompactSegs  = 64
	maxCompactBytes = 64 << 20
)

// Journal is an append-only journal in one folder. Open it, Load it once,
// then Apply from any goroutine; Close it when done.
type Journal struct {
	dir     string
	opts    Options
	segSize int64
	policy  string
	ratio   float64
	log     *slog.Logger
	hooks   *hooks
	hookMu  sync.Mutex

	lockFile *os.File
	listing  listing

	lifeMu sync.Mutex // serialises Load and Close

	storage.Notifier

	// The queue between Apply and the writer.
	qmu     sync.Mutex
	pending []request
	spare   []request
	qerr    error // non-nil: Apply fails at once with it
	short   error // non-nil: no next segment could be prepared (space.go)
	phase   phase
	closing bool
	wake    chan struct{}
	// delayTarget is set while the writer holds a group back (awaitGroup):
	// enqueue wakes it once that many synced requests are queued.
	delayTarget atomic.Int64
	// lastGroup is how many synced requests the previous group held (writer
	// only); pendingSync how many are queued (under qmu).
	lastGroup   int
	pendingSync int
	syncAvg     time.Duration // moving average of a sync (writer only)
	// Apply calls accepted and not yet done, in number and bytes (under
	// qmu), and whether that is past the high-water mark.
	outstanding      int
	outstandingBytes int
	pressure         atomic.Bool
	lastSync         atomic.Int64 // nanoseconds the last sync took
	errors           atomic.Uint64

	// files reads segments back for paging (paging.go); activeSeq is the
	// active segment's sequence, for ReadPaged to tell the end of the data
	// from damage.
	files     *segReader
	activeSeq atomic.Uint32

	// Owned by the writer goroutine once Load has finished.
	x        *index
	active   *segState
	af       *os.File
	unsynced bool
	next     *prepared
	prepOut  bool
	prepErr  error
	freeOut  bool
	compOut  bool
	scratch  map[uint32]int // reclaim's and compaction's working set
	gbuf     []byte
	upgrade  bool // the group holds page operations and the active segment's header says version 1
	failErr  error
	shortErr error            // the writer's copy of short
	prepWait time.Duration    // the last backoff before a preparation retry
	retryC   <-chan time.Time // fires for the next preparation retry
	closeErr error
	wclosing bool // the writer's copy of closing

	// Background goroutines.
	prepReq  chan uint32
	prepRes  chan prepResult
	freeReq  chan []freeJob
	freedCh  chan freeResult
	compReq  chan compactJob
	compRes  chan compactResult
	compAck  chan error
	stop     chan struct{}
	bgWG     sync.WaitGroup
	writerWG sync.WaitGroup

	// Synced requests whose callbacks the completer is to run.
	cmu   sync.Mutex
	cq    []completion
	cwake chan struct{}
	cstop chan struct{} // closed by the writer when it stops
	pool  []string      // owned by the background goroutine

	stats   statsState
	statsMu sync.Mutex
	snap    Stats
}

type phase uint8

const (
	phaseOpened phase = iota
	phaseLoading
	phaseRunning
	phaseLoadFailed
	phaseClosed
)

// request is one Apply, or one chunk of compaction copies.
type request struct {
	ops  []storage.Op
	done func(error)
	sync bool
	size int // encoded size of ops (worst case for a copy chunk)
	copy *copyChunk
}

var _ storage.Store = (*Journal)(nil)

// Open opens (creating if needed) the journal in dir and locks it. Call Load
// before the first Apply.
func Open(dir string, opts Options) (*Journal, error) {
	j := &Journal{dir: dir, opts: opts, hooks: opts.hooks}
	j.segSize = opts.SegmentSize
	if j.segSize == 0 {
		j.segSize = DefaultSegmentSize
	}
	if j.segSize < MinSegmentSize || j.segSize > maxSegmentSize {
		return nil, fmt.Errorf("journal: segment size %d outside [%d, %d]", j.segSize, MinSegmentSize, maxSegmentSize)
	}
	j.segSize &^= recAlign - 1
	switch opts.SyncPolicy {
	case "":
		j.policy = storage.SyncBatch
	case storage.SyncAlways, storage.SyncBatch, storage.SyncNever:
		j.policy = opts.SyncPolicy
	default:
		return nil, fmt.Errorf("journal: unknown sync policy %q (want %s, %s or %s)", opts.SyncPolicy, storage.SyncAlways, storage.SyncBatch, storage.SyncNever)
	}
	j.ratio = opts.CompactLiveRatio
	if j.ratio == 0 {
		j.ratio = defaultCompactRatio
	}
	j.log = opts.Logger
	if j.log == nil {
		j.log = slog.Default()
	}

	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("journal: creating %s: %w", dir, err)
	}
	l, err := listDir(dir)
	if err != nil {
		return nil, fmt.Errorf("journal: reading %s: %w", dir, err)
	}
	if !l.hasFormat {
		var found []string
		found = append(found, l.foreign...)
		for _, s := range l.segs {
			found = append(found, s.name)
		}
		found = append(append(found, l.pool...), l.damaged...)
		if len(found) > 0 {
			return nil, fmt.Errorf("%w: %s has no %s file but holds %q", ErrNotJournal, dir, formatFileName, found[0])
		}
	} else if _, err := readFormatFile(dir); err != nil {
		return nil, err
	}
	if err := syscall.Access(dir, 2 /* W_OK */); err != nil {
		return nil, fmt.Errorf("journal: folder %s is not writable: %w", dir, err)
	}
	if j.lockFile, err = lockDir(dir); err != nil {
		return nil, err
	}
	ok := false
	defer func() {
		if !ok {
			j.lockFile.Close()
		}
	}()
	if !l.hasFormat {
		if err := writeFileAtomic(dir, formatFileName, formatFileContent()); err != nil {
			return nil, fmt.Errorf("journal: creating the format file: %w", err)
		}
	}
	// List again: the folder may have changed before the lock was ours.
	if l, err = listDir(dir); err != nil {
		return nil, fmt.Errorf("journal: reading %s: %w", dir, err)
	}
	if _, err := readFormatFile(dir); err != nil {
		return nil, err
	}
	if len(l.foreign) > 0 {
		j.log.Warn("journal: ignoring unknown files in the journal folder", "dir", dir, "files", l.foreign)
	}
	if err := checkSegmentVersions(dir, l.segs); err != nil {
		return nil, err
	}
	for _, t := range l.temps {
		// Leftovers of a preparation or format write that a crash interrupted.
		if err := os.Remove(filepath.Join(dir, t)); err != nil {
			return nil, fmt.Errorf("journal: removing leftover %s: %w", t, err)
		}
	}
	j.listing = l
	j.qerr = ErrNotLoaded
	j.wake = make(chan struct{}, 1)
	ok = true
	return j, nil
}

// Dir returns the journal's folder.
func (j *Journal) Dir() string { return j.dir }

// Apply implements storage.Store. It encodes nothing and waits for nothing:
// the request joins the writer's queue and done runs once the group holding
// it is written (sync false, or the never policy) or written and synced.
func (j *Journal) Apply(ops []storage.Op, sync bool, done func(error)) {
	if done == nil {
		done = func(error) {}
	}
	size := 0
	for i := range ops {
		n, err := opSize(&ops[i])
		if err != nil {
			j.errors.Add(1)
			done(err)
			return
		}
		size += n
	}
	if size > MaxApplySize {
		j.errors.Add(1)
		done(fmt.Errorf("%w: %d bytes", ErrTooLarge, size))
		return
	}
	if len(ops) == 0 {
		j.qmu.Lock()
		err := j.qerr
		j.qmu.Unlock()
		if err != nil {
			j.errors.Add(1)
		}
		done(err)
		return
	}
	j.enqueue(request{ops: ops, done: done, sync: sync, size: size})
}

func (j *Journal) enqueue(r request) {
	j.qmu.Lock()
	if err := j.qerr; err != nil {
		j.qmu.Unlock()
		if r.copy == nil {
			j.errors.Add(1)
		}
		r.done(err)
		return
	}
	j.pending = append(j.pending, r)
	if r.sync {
		j.pendingSync++
	}
	pressed := false
	if r.copy == nil {
		j.outstanding++
		j.outstandingBytes += r.size
		if (j.outstanding >= pressureRequests || j.outstandingBytes >= pressureBytes) && !j.pressure.Load() {
			j.pressure.Store(true)
			pressed = true
		}
	}
	// Wake the writer for the first request, or when the group it is
	// holding back (awaitGroup) is complete.
	wake := len(j.pending) == 1
	if t := j.delayTarget.Load(); t > 0 && j.pendingSync >= int(t) {
		wake = true
	}
	j.qmu.Unlock()
	if wake {
		select {
		case j.wake <- struct{}{}:
		default:
		}
	}
	if pressed {
		j.Changed()
	}
}

// settled counts requests of a processed batch as done and clears Pressure
// once the writer has caught up. Writer goroutine only, no lock held.
func (j *Journal) settled(batch []request) {
	n, bytes := 0, 0
	for i := range batch {
		if batch[i].copy == nil {
			n++
			bytes += batch[i].size
		}
	}
	j.qmu.Lock()
	j.outstanding -= n
	j.outstandingBytes -= bytes
	relieved := j.pressure.Load() && j.outstanding <= pressureRequests/4 && j.outstandingBytes <= pressureBytes/4
	if relieved {
		j.pressure.Store(false)
	}
	j.qmu.Unlock()
	if relieved {
		j.Changed()
	}
}

// Health implements storage.Store: nil while the journal writes; else an
// error matching ErrUnavailable while it retries (space.go), ErrFailed after
// a failed sync, ErrNotLoaded before Load, ErrClosed after Close.
func (j *Journal) Health() error {
	j.qmu.Lock()
	defer j.qmu.Unlock()
	if j.qerr != nil {
		return j.qerr
	}
	return j.short
}

// Pressure implements storage.Store.
func (j *Journal) Pressure() bool { return j.pressure.Load() }

// Load implements storage.Store: it replays the journal into r (bindings,
// then messages, then references in the order they were added) and starts
// the writer. A torn write at the end is cut off with a warning; damage
// elsewhere fails Load with a *CorruptError unless Options.Repair is set.
func (j *Journal) Load(ctx context.Context, r storage.Recovery) error {
	j.lifeMu.Lock()
	defer j.lifeMu.Unlock()
	j.qmu.Lock()
	if j.phase != phaseOpened {
		ph := j.phase
		j.qmu.Unlock()
		if ph == phaseClosed {
			return storage.ErrClosed
		}
		return errors.New("journal: Load called twice")
	}
	j.phase = phaseLoading
	j.qmu.Unlock()

	start := time.Now()
	err := j.load(ctx, r)
	j.qmu.Lock()
	defer j.qmu.Unlock()
	if err != nil {
		j.phase = phaseLoadFailed
		j.qerr = fmt.Errorf("%w: %w", ErrNotLoaded, err)
		j.releaseFiles()
		return err
	}
	j.stats.recoveryTime = time.Since(start)
	j.phase = phaseRunning
	j.qerr = nil
	j.publishStats()
	j.log.Info("journal: recovered",
		"dir", j.dir, "segments", j.x.segs.len(),
		"bindings", j.stats.recBindings, "messages", j.stats.recMessages, "refs", j.stats.recRefs,
		"took", j.stats.recoveryTime.Round(time.Millisecond))
	j.startGoroutines()
	return nil
}

func (j *Journal) releaseFiles() {
	if j.files != nil {
		j.files.close()
	}
	if j.af != nil {
		j.af.Close()
		j.af = nil
	}
	if j.next != nil {
		j.next.f.Close()
		j.next = nil
	}
}

func (j *Journal) load(ctx context.Context, r storage.Recovery) error {
	mode := modeLoad
	if j.opts.Repair {
		mode = modeRepair
	}
	rp := newReplayer(j.dir, mode, j.log, j.listing.segs)
	defer rp.close()
	j.files, rp.reader = rp.reader, nil
	if err := rp.run(ctx); err != nil {
		return err
	}
	j.x = rp.x
	j.stats.truncated = rp.truncatedAt >= 0
	if err := j.emit(ctx, r, rp); err != nil {
		return err
	}

	j.pool = j.listing.pool
	for i, u := range rp.unused {
		if i == 0 && rp.tail != nil && u.seq == rp.tail.seq+1 {
			if p, err := openPrepared(j.dir, u); err == nil {
				j.next = p
				continue
			}
		}
		// Prepared for a rollover that never came: back to the pool.
		if err := j.toPool(u.name, j.segSize); err != nil {
			return err
		}
	}
	for len(j.pool) > maxPool {
		if err := os.Remove(filepath.Join(j.dir, j.pool[0])); err != nil {
			return fmt.Errorf("journal: trimming the segment pool: %w", err)
		}
		j.pool = j.pool[1:]
	}

	if t := rp.tail; t != nil {
		f, err := os.OpenFile(filepath.Join(j.dir, t.name), os.O_RDWR, 0)
		if err != nil {
			return fmt.Errorf("journal: opening %s: %w", t.name, err)
		}
		j.active, j.af = t, f
		if t.size < j.segSize {
			// Cut short by something other than the journal; writes extend it.
			if err := f.Truncate(j.segSize); err != nil {
				return fmt.Errorf("journal: extending %s: %w", t.name, err)
			}
			t.size = j.segSize
		}
		if rp.truncatedAt >= 0 {
			// Mark the new end now, so the next start does not report the
			// same torn write again.
			var zero [endMarkerSize]byte
			if _, err := f.WriteAt(zero[:], t.used); err != nil {
				return fmt.Errorf("journal: truncating %s: %w", t.name, err)
			}
			if err := fdatasync(f); err != nil {
				return fmt.Errorf("journal: truncating %s: %w", t.name, err)
			}
		}
	} else {
		seq := rp.maxSeq + 1
		p, err := j.prepare(seq)
		if err != nil {
			return fmt.Errorf("journal: creating segment %d: %w", seq, err)
		}
		j.active, j.af = p.seg, p.f
		j.x.segs.add(p.seg)
	}
	if j.next != nil && j.next.seg.seq != j.active.seq+1 {
		j.next.f.Close()
		if err := j.toPool(j.next.seg.name, j.next.seg.size); err != nil {
			return err
		}
		j.next = nil
	}
	if j.next == nil {
		// Prepared now rather than in the background, so that Health says
		// from the start whether the journal can roll over. Without room
		// it still starts, short of space: recovery needs no new segment,
		// and what fits the active one (acks) can be written.
		if p, err := j.prepare(j.active.seq + 1); err == nil {
			j.next = p
		} else {
			j.prepErr = err
			j.setShort(err)
		}
	}
	j.x.reclaimable = true
	j.activeSeq.Store(j.active.seq)
	j.stats.pool = len(j.pool)
	j.gbuf = make([]byte, recHeaderSize, 64<<10)
	j.scratch = make(map[uint32]int)
	return nil
}

// toPool moves a segment file with no live content to the pool, or removes
// it. Only used before the background goroutine starts.
func (j *Journal) toPool(name string, size int64) error {
	path := filepath.Join(j.dir, name)
	if size == j.segSize && len(j.pool) < maxPool {
		pname := poolPrefix + name
		if err := os.Rename(path, filepath.Join(j.dir, pname)); err != nil {
			return fmt.Errorf("journal: pooling %s: %w", name, err)
		}
		j.pool = append(j.pool, pname)
	} else if err := os.Remove(path); err != nil {
		return fmt.Errorf("journal: removing %s: %w", name, err)
	}
	return syncDir(j.dir)
}

func (j *Journal) startGoroutines() {
	j.prepReq = make(chan uint32, 1)
	j.prepRes = make(chan prepResult, 1)
	j.freeReq = make(chan []freeJob, 1)
	j.freedCh = make(chan freeResult, 1)
	j.compReq = make(chan compactJob, 1)
	j.compRes = make(chan compactResult, 1)
	j.compAck = make(chan error, 1)
	j.stop = make(chan struct{})
	j.pending = make([]request, 0, 256)
	j.spare = make([]request, 0, 256)
	if j.next == nil {
		j.prepOut = true
		j.prepReq <- j.active.seq + 1
	}
	j.bgWG.Add(2)
	go j.backgroundLoop()
	go j.compactLoop()
	j.cwake = make(chan struct{}, 1)
	j.cstop = make(chan struct{})
	j.writerWG.Add(2)
	go j.completerLoop()
	go j.writerLoop()
}

// Close implements storage.Store: it writes (and syncs) what is queued,
// stops the background work and releases the folder. After a failure it
// returns the error that caused it.
func (j *Journal) Close() error {
	j.lifeMu.Lock()
	defer j.lifeMu.Unlock()
	j.qmu.Lock()
	if j.phase == phaseClosed {
		j.qmu.Unlock()
		return nil
	}
	running := j.phase == phaseRunning
	j.phase = phaseClosed
	j.closing = true
	j.qerr = storage.ErrClosed
	j.qmu.Unlock()
	j.Changed()
	var err error
	if running {
		select {
		case j.wake <- struct{}{}:
		default:
		}
		j.writerWG.Wait()
		err = j.closeErr
		j.files.close()
	}
	if lerr := j.lockFile.Close(); err == nil && lerr != nil {
		err = fmt.Errorf("journal: releasing the lock: %w", lerr)
	}
	return err
}

// checkSegmentVersions refuses, at Open already, segments of a newer format.
// Other damage to a header is Load's to report (or repair).
func checkSegmentVersions(dir string, segs []segFile) error {
	var hb [segHeaderSize]byte
	for _, sf := range segs {
		f, err := os.Open(filepath.Join(dir, sf.name))
		if err != nil {
			return fmt.Errorf("journal: %w", err)
		}
		_, err = f.ReadAt(hb[:], 0)
		f.Close()
		if err != nil {
			continue
		}
		if h, err := decodeSegHeader(hb[:]); errors.Is(err, errSegVersion) {
			return fmt.Errorf("%w: segment %s is format %d, this broker reads up to %d",
				ErrNewerVersion, filepath.Join(dir, sf.name), h.version, formatVersion)
		}
	}
	return nil
}
