package journal

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"runtime"
	"time"

	"github.com/junctionmq/junction/storage"
)

// writerLoop is the writer goroutine: it drains the queue in batches and
// writes them, and keeps segments reclaimed and compacted in between.
func (j *Journal) writerLoop() {
	defer j.writerWG.Done()
	j.housekeep()
	for {
		j.awaitGroup()
		j.qmu.Lock()
		batch := j.pending
		j.pending = j.spare[:0]
		j.pendingSync = 0
		j.wclosing = j.closing
		j.qmu.Unlock()
		if len(batch) > 0 {
			j.lastGroup = countSync(batch)
			j.process(batch)
			j.settled(batch)
			clear(batch)
			j.spare = batch[:0]
			j.pollBackground()
			j.housekeep()
			j.publishStats()
			// The done callbacks just woke producers that will apply again
			// at once; let them, so that their requests join the next group
			// instead of the one after. Without it, producers waiting on
			// their dones split into two cohorts that sync alternately, each
			// waiting for the other's sync: half the group size.
			runtime.Gosched()
			continue
		}
		j.spare = batch[:0]
		if j.wclosing {
			break
		}
		select {
		case <-j.wake:
		case res := <-j.prepRes:
			j.onPrepared(res)
		case res := <-j.freedCh:
			j.onFreed(res)
			j.housekeep()
			j.publishStats()
		case res := <-j.compRes:
			j.onCompacted(res)
			j.housekeep()
			j.publishStats()
		case <-j.retryC:
			j.onRetry()
		}
	}
	j.shutdown()
}

// Group commit holds a group back for at most about two syncs, within these
// bounds: long enough for producers released by the previous sync to come
// back (one round trip through the client, which on a busy machine takes
// as long as a sync), never so long that waiting costs more than it saves.
const (
	minCommitDelay = 50 * time.Microsecond
	maxCommitDelay = time.Millisecond
)

// noteSync keeps a moving average of the active segment's sync time. Writer
// goroutine only.
func (j *Journal) noteSync(d time.Duration) {
	if j.syncAvg == 0 {
		j.syncAvg = d
		return
	}
	j.syncAvg += (d - j.syncAvg) / 8
}

func (j *Journal) commitDelay() time.Duration {
	return min(max(2*j.syncAvg, minCommitDelay), maxCommitDelay)
}

func countSync(reqs []request) int {
	n := 0
	for i := range reqs {
		if reqs[i].sync {
			n++
		}
	}
	return n
}

// awaitGroup is group commit's patience. Producers that wait for each
// confirmation come back one round trip after the previous sync; writing as
// soon as the first of them arrives would sync for a few and make the rest
// wait a whole sync more (the producers then split into cohorts that sync in
// turn, each waiting for the other's sync). So when the previous group held
// several synced requests and fewer are queued, the writer waits up to
// commitDelay for the queue to hold as many (PostgreSQL's commit_delay with
// commit_siblings, adapted to the observed group size and sync time).
// Requests that need no sync (acks) go with whatever group comes and do not
// count. A lone producer (group of one) is never delayed.
func (j *Journal) awaitGroup() {
	if j.policy != storage.SyncBatch || j.lastGroup < 2 {
		return
	}
	j.qmu.Lock()
	n := j.pendingSync
	queued := len(j.pending)
	if queued > 0 && n < j.lastGroup {
		j.delayTarget.Store(int64(j.lastGroup))
	}
	j.qmu.Unlock()
	if queued == 0 || n >= j.lastGroup {
		return
	}
	defer j.delayTarget.Store(0)
	t := time.NewTimer(j.commitDelay())
	defer t.Stop()
	for {
		select {
		case <-j.wake:
		case <-t.C:
			return
		}
		j.qmu.Lock()
		n = j.pendingSync
		closing := j.closing
		j.qmu.Unlock()
		if n >= j.lastGroup || closing {
			return
		}
	}
}

// pollBackground takes the background goroutines' answers without waiting:
// under steady load the writer never idles in its select.
func (j *Journal) pollBackground() {
	for {
		select {
		case res := <-j.prepRes:
			j.onPrepared(res)
		case res := <-j.freedCh:
			j.onFreed(res)
		case res := <-j.compRes:
			j.onCompacted(res)
		case <-j.retryC:
			j.onRetry()
		default:
			return
		}
	}
}

func (j *Journal) shutdown() {
	defer close(j.cstop)
	close(j.stop)
	j.bgWG.Wait()
	select {
	case res := <-j.prepRes:
		j.onPrepared(res)
	default:
	}
	if j.failErr == nil && j.unsynced {
		if err := j.syncActive(); err != nil {
			j.closeErr = fmt.Errorf("journal: final sync: %w", err)
		}
	}
	if j.failErr != nil {
		j.closeErr = j.failErr
	}
	if err := j.af.Close(); err != nil && j.closeErr == nil {
		j.closeErr = fmt.Errorf("journal: closing %s: %w", j.active.name, err)
	}
	if j.next != nil {
		// A prepared segment stays on disk; the next Load takes it up again.
		j.next.f.Close()
		j.next = nil
	}
	j.publishStats()
}

// process writes a batch of requests: as few groups as the segment and group
// limits allow, one record per group, one write and at most one sync each.
func (j *Journal) process(batch []request) {
	i := 0
	for i < len(batch) && j.failErr == nil {
		j.gbuf = j.gbuf[:recHeaderSize]
		j.upgrade = false
		start := i
		for i < len(batch) {
			r := &batch[i]
			if r.copy != nil && !r.copy.filtered {
				r.size = j.filterCopy(r.copy)
			}
			if !j.fits(r.size) {
				if i > start {
					break
				}
				if err := j.makeRoom(r.size); err != nil {
					if !errors.Is(err, ErrUnavailable) {
						j.fail(err)
						break
					}
					// No room now (short of space): this request fails,
					// the next may still fit the active segment.
					j.complete(batch[i:i+1], err)
					i++
					start = i
					continue
				}
				continue
			}
			if r.copy != nil {
				j.encodeCopy(r.copy)
			} else {
				j.encodeOps(r.ops)
				if err := j.x.pages.err; err != nil {
					// A page record could not be read back: the index
					// may be off from the disk, so nothing more is written.
					j.fail(err)
					i = start
					break
				}
			}
			i++
			if j.policy == storage.SyncAlways || len(j.gbuf) >= maxGroupBytes {
				break
			}
		}
		if i > start && j.failErr == nil {
			j.flushGroup(batch[start:i])
		}
	}
	if j.failErr != nil {
		j.complete(batch[i:], j.failErr)
	}
}

// fits reports whether extra more payload bytes fit the current group in the
// active segment, keeping room for the seal.
func (j *Journal) fits(extra int) bool {
	return j.active.used+int64(align(len(j.gbuf)+extra))+sealSize <= j.active.size
}

func (j *Journal) encodeOps(ops []storage.Op) {
	var d dop
	base := uint32(j.active.used)
	j.x.pages.recOff = base
	for i := range ops {
		op := &ops[i]
		pos := len(j.gbuf)
		j.gbuf = appendOp(j.gbuf, op)
		if op.Kind >= storage.OpPageRef && j.active.version < pagingVersion {
			j.upgrade = true
		}
		opToDop(op, &d)
		j.x.applyOp(j.active, &d, base+uint32(pos), len(j.gbuf)-pos)
	}
	j.stats.applies++
}

// opToDop describes op as the decoder would, for the index.
func opToDop(op *storage.Op, d *dop) {
	d.kind = byte(op.Kind)
	d.binding = op.Binding
	d.msgID, d.queueID = op.MsgID, op.QueueID
	d.dc, d.sched = op.DeliveryCount, op.ScheduledAt
	d.data = op.Data
	d.keyStr, d.useKeyStr = op.Key, true
	d.pos = op.Pos
	switch op.Kind {
	case storage.OpAddMessage:
		d.dataOff = 1 + 8 + uvarintLen(uint64(len(op.Data)))
	case storage.OpPageRef:
		d.dataOff = pageHdrSize + uvarintLen(uint64(len(op.Data)))
	case storage.OpPutBinding:
		d.dataOff = 2 + uvarintLen(uint64(len(op.Key))) + len(op.Key) + uvarintLen(uint64(len(op.Data)))
	}
}

// filterCopy drops the items of a compaction chunk that the index no longer
// places where the compactor found them, and returns the exact size of the
// copies of the rest. Nothing changes the index between this and encodeCopy:
// both run on the writer goroutine, with only writes and syncs between them.
func (j *Journal) filterCopy(c *copyChunk) int {
	x := j.x
	size := 0
	live := c.items[:0]
	for _, it := range c.items {
		switch it.kind {
		case itemMessage:
			e := x.msgs.find(it.id)
			if e == nil || e.seq != it.src || e.off != it.srcOff {
				continue
			}
			size += msgOpSize(len(it.data))
		case itemRef:
			e := x.refs.find(refKey{it.q, it.id})
			if e == nil || (e.base != it.src && e.upd != it.src) {
				continue
			}
			size += copyRefOpSize
		case itemBinding:
			e, ok := x.binds[bindKey{it.binding, string(it.key)}]
			if !ok || e.seq != it.src || e.off != it.srcOff {
				continue
			}
			size += bindingOpSize(len(it.key), len(it.data))
		default:
			continue
		}
		live = append(live, it)
	}
	clear(c.items[len(live):])
	c.items = live
	c.filtered = true
	return size
}

// encodeCopy appends the still-live items of a compaction chunk, each
// reflecting the current state, and moves the index to the copies.
func (j *Journal) encodeCopy(c *copyChunk) {
	var d dop
	base := uint32(j.active.used)
	x := j.x
	for i := range c.items {
		it := &c.items[i]
		pos := len(j.gbuf)
		switch it.kind {
		case itemMessage:
			e := x.msgs.find(it.id)
			if e == nil || e.seq != it.src || e.off != it.srcOff {
				continue
			}
			j.gbuf = appendCopyMessage(j.gbuf, it.id, it.data)
			d = dop{kind: kindCopyMessage, msgID: it.id, data: it.data, dataOff: 1 + 8 + uvarintLen(uint64(len(it.data)))}
		case itemRef:
			e := x.refs.find(refKey{it.q, it.id})
			if e == nil || (e.base != it.src && e.upd != it.src) {
				continue
			}
			j.gbuf = appendCopyRef(j.gbuf, it.q, it.id, e.dc, e.sched, e.order)
			d = dop{kind: kindCopyRef, queueID: it.q, msgID: it.id, dc: e.dc, sched: e.sched, order: e.order}
		case itemBinding:
			e, ok := x.binds[bindKey{it.binding, string(it.key)}]
			if !ok || e.seq != it.src || e.off != it.srcOff {
				continue
			}
			j.gbuf = appendCopyBinding(j.gbuf, it.binding, it.key, it.data)
			d = dop{kind: kindCopyBinding, binding: it.binding, key: it.key, data: it.data,
				dataOff: 2 + uvarintLen(uint64(len(it.key))) + len(it.key) + uvarintLen(uint64(len(it.data)))}
		default:
			continue
		}
		x.applyOp(j.active, &d, base+uint32(pos), len(j.gbuf)-pos)
		j.stats.copiedBytes += uint64(len(j.gbuf) - pos)
	}
}

// flushGroup writes the group in j.gbuf as one record and completes its
// requests: unsynced ones after the write, synced ones after the fdatasync.
func (j *Journal) flushGroup(reqs []request) {
	payload := len(j.gbuf) - recHeaderSize
	if payload == 0 {
		// Only compaction chunks whose items had all died meanwhile.
		j.complete(reqs, nil)
		return
	}
	recSize := align(len(j.gbuf))
	need := recSize + endMarkerSize
	for len(j.gbuf) < need {
		j.gbuf = append(j.gbuf, 0)
	}
	j.gbuf = j.gbuf[:need]
	putRecordHeader(j.gbuf, recBatch, j.active.key(), payload)
	clear(j.gbuf[recSize:need])
	if j.upgrade {
		if err := j.upgradeActive(); err != nil {
			j.fail(err)
			j.complete(reqs, j.failErr)
			return
		}
	}
	write := func() error { return j.writeAt(j.af, j.gbuf, j.active.used) }
	if err := write(); err != nil && !j.retryWrite(err, write) {
		j.fail(fmt.Errorf("writing %s at offset %d: %w", j.active.name, j.active.used, err))
		j.complete(reqs, j.failErr)
		return
	}
	j.active.used += int64(recSize)
	j.active.records++
	j.unsynced = true
	j.stats.groups++

	syncNeeded := false
	for i := range reqs {
		r := &reqs[i]
		if r.sync && j.policy != storage.SyncNever {
			syncNeeded = true
			continue
		}
		r.done(nil)
	}
	if !syncNeeded {
		return
	}
	start := time.Now()
	if err := j.syncActive(); err != nil {
		j.fail(err)
	}
	took := time.Since(start)
	j.noteSync(took)
	j.lastSync.Store(int64(took))
	j.completeSynced(reqs, j.failErr)
}

// upgradeActive rewrites the active segment's header to the paging format
// before its first page operation is written: a broker that does not know
// them then refuses the segment instead of reading them as damage. The
// header and the record are synced together; a crash between leaves a
// version 2 segment without page operations, which is harmless.
func (j *Journal) upgradeActive() error {
	var hdr [segHeaderSize]byte
	encodeSegHeader(hdr[:], segHeader{version: pagingVersion, tag: j.active.tag, seq: uint64(j.active.seq)})
	if err := j.writeAt(j.af, hdr[:], 0); err != nil {
		return fmt.Errorf("writing the header of %s: %w", j.active.name, err)
	}
	j.active.version = pagingVersion
	j.upgrade = false
	return nil
}

func (j *Journal) complete(reqs []request, err error) {
	for i := range reqs {
		if err != nil && reqs[i].copy == nil {
			j.errors.Add(1)
		}
		reqs[i].done(err)
	}
}

func (j *Journal) syncActive() error {
	if err := j.fsync(j.af); err != nil {
		return fmt.Errorf("syncing %s: %w", j.active.name, err)
	}
	j.unsynced = false
	return nil
}

// fail puts the journal into the failed state: the current and every later
// request fail with the cause; nothing more is written.
func (j *Journal) fail(err error) {
	if j.failErr != nil {
		return
	}
	j.failErr = &failedError{cause: err}
	j.publishStats()
	j.log.Error("journal: write failed; every further operation fails until the journal is reopened",
		"dir", j.dir, "free", freeSpace(j.dir), "error", err)
	j.qmu.Lock()
	if !j.closing {
		j.qerr = j.failErr
	}
	j.qmu.Unlock()
	j.Changed()
}

// makeRoom makes the active segment able to take a group of need bytes:
// it seals it and moves to the next one, and grows a segment for a request
// larger than a segment.
func (j *Journal) makeRoom(need int) error {
	if j.active.records > 0 {
		if err := j.rollover(); err != nil {
			return err
		}
	}
	if j.fits(need) {
		return nil
	}
	size := j.active.used + int64(align(recHeaderSize+need)) + sealSize + endMarkerSize
	size = (size + 4095) &^ 4095
	if err := j.truncate(j.af, size); err != nil {
		return &unavailableError{what: fmt.Sprintf("growing %s to %d bytes failed", j.active.name, size), cause: err}
	}
	j.active.size = size
	return nil
}

// rollover seals the active segment and makes the prepared one active.
func (j *Journal) rollover() error {
	if j.active.seq == math.MaxUint32 {
		return errors.New("segment sequence numbers exhausted")
	}
	next, err := j.takePrepared()
	if err != nil {
		return err
	}
	old := j.active
	// The records must be durable before the seal can be: a seal over a hole
	// would read as damage in the middle.
	if j.unsynced {
		if err := j.syncActive(); err != nil {
			next.f.Close()
			return err
		}
	}
	var seal [sealSize]byte
	binary.LittleEndian.PutUint64(seal[recHeaderSize:], uint64(next.seg.seq))
	putRecordHeader(seal[:], recSeal, old.key(), 8)
	if err := j.writeAt(j.af, seal[:], old.used); err != nil {
		next.f.Close()
		return fmt.Errorf("sealing %s: %w", old.name, err)
	}
	if err := j.fsync(j.af); err != nil {
		next.f.Close()
		return fmt.Errorf("sealing %s: %w", old.name, err)
	}
	old.used += sealSize
	old.records++
	old.sealed = true
	if err := j.af.Close(); err != nil {
		j.log.Warn("journal: closing a sealed segment", "file", old.name, "error", err)
	}
	j.active, j.af, j.unsynced = next.seg, next.f, false
	j.activeSeq.Store(next.seg.seq)
	j.x.segs.add(next.seg)
	j.x.reclaimable = true
	j.stats.rollovers++
	j.requestPrepare()
	return nil
}

func (j *Journal) requestPrepare() {
	if j.prepOut || j.next != nil {
		return
	}
	j.prepOut = true
	j.prepReq <- j.active.seq + 1
}

// takePrepared returns the next segment, waiting for the background
// goroutine if it is not ready yet.
// A failed attempt is retried once, still on the background goroutine,
// which owns the pool. Short of space, it waits only for an attempt already
// under way: the backoff timer retries, not every request that needs room.
func (j *Journal) takePrepared() (*prepared, error) {
	for attempt := 0; j.next == nil; attempt++ {
		if attempt == 2 || (j.shortErr != nil && !j.prepOut) {
			if j.shortErr != nil {
				return nil, j.shortErr
			}
			return nil, &unavailableError{what: fmt.Sprintf("preparing segment %d failed", j.active.seq+1), cause: j.prepErr}
		}
		j.requestPrepare()
		j.onPrepared(<-j.prepRes)
	}
	p := j.next
	j.next = nil
	return p, nil
}

func (j *Journal) onPrepared(res prepResult) {
	j.prepOut = false
	j.prepErr = res.err
	if errors.Is(res.err, errStopped) {
		// The preparer was stopped by Close: not a shortage of space,
		// and nothing to retry or report.
		return
	}
	if res.err != nil {
		j.setShort(res.err)
		j.schedulePrepare()
		return
	}
	if res.p.seg.seq != j.active.seq+1 || j.next != nil {
		res.p.f.Close()
		return
	}
	j.next = res.p
	j.clearShort()
}

// housekeep frees segments that hold nothing live and starts a compaction
// when one is due. It runs on the writer goroutine between groups.
func (j *Journal) housekeep() {
	if j.failErr != nil || j.wclosing {
		return
	}
	j.reclaim()
	j.maybeCompact()
}

func (j *Journal) reclaim() {
	if j.freeOut || !j.x.reclaimable {
		return
	}
	j.x.reclaimable = false
	var jobs []freeJob
	level := j.scratch
	clear(level)
	// Dependencies are older segments: one pass in sequence order sees them
	// before their dependents.
	for _, s := range j.x.segs.list {
		if s == nil || s == j.active || !s.sealed || s.freeing || s.compacting || s.noFree || s.liveOps != 0 {
			continue
		}
		lv, ok := 0, true
		for _, d := range s.deps {
			if j.x.segs.get(d) == nil {
				continue
			}
			l, in := level[d]
			if !in {
				ok = false
				break
			}
			lv = max(lv, l+1)
		}
		if !ok {
			continue
		}
		level[s.seq] = lv
		jobs = append(jobs, freeJob{seq: s.seq, name: s.name, size: s.size, level: lv})
	}
	if len(jobs) == 0 {
		return
	}
	// What made these segments dead must be on disk before they leave it.
	if j.unsynced {
		if err := j.syncActive(); err != nil {
			j.fail(err)
			return
		}
	}
	for _, f := range jobs {
		j.x.segs.get(f.seq).freeing = true
	}
	j.freeOut = true
	j.freeReq <- jobs
}

func (j *Journal) onFreed(res freeResult) {
	j.freeOut = false
	for _, seq := range res.freed {
		if s := j.x.segs.get(seq); s != nil {
			j.stats.freedBytes += uint64(s.size)
		}
		j.x.segs.remove(seq)
		j.files.forget(seq)
		j.stats.freed++
	}
	for _, seq := range res.failed {
		if s := j.x.segs.get(seq); s != nil {
			s.freeing = false
			s.noFree = true
		}
	}
	for _, seq := range res.skipped {
		if s := j.x.segs.get(seq); s != nil {
			s.freeing = false
		}
	}
	j.stats.pool = res.pool
	j.x.reclaimable = true
	if len(res.freed) > 0 && j.shortErr != nil && j.next == nil {
		// Freed segments are pooled (reusable with no new space) or gave
		// their space back: try again now rather than after the backoff.
		j.retryC = nil
		j.requestPrepare()
	}
}

// maybeCompact starts a compaction pass over the sealed segments whose live
// ratio is below the threshold; or, when the sealed segments together are
// below it, over the oldest segments whatever their own ratio: their live
// records are what keeps later segments' cancelling records (and so those
// segments) on disk. A segment qualifies only when each segment it depends
// on is gone or will be once this pass and the frees after it are done (it
// is in the pass, or dead with its own dependencies cleared): otherwise
// copying its records out would not free it.
func (j *Journal) maybeCompact() {
	if j.compOut || j.ratio < 0 || j.shortErr != nil {
		// Short of space, the active segment's room is kept for acks:
		// they are what frees segments.
		return
	}
	var used, live int64
	sealed := 0
	for _, s := range j.x.segs.list {
		if s != nil && s.sealed && !s.freeing {
			sealed++
			used += s.used - segHeaderSize
			live += s.liveBytes
		}
	}
	global := sealed >= 4 && float64(live) < j.ratio*float64(used)
	var job compactJob
	var jobBytes int64
	cleared := j.scratch
	clear(cleared)
	for _, s := range j.x.segs.list {
		if s == nil || !s.sealed {
			continue
		}
		if s.freeing {
			cleared[s.seq] = 0
			continue
		}
		ready := true
		for _, d := range s.deps {
			if j.x.segs.get(d) != nil {
				if _, ok := cleared[d]; !ok {
					ready = false
					break
				}
			}
		}
		if !ready {
			continue
		}
		if s.liveOps == 0 {
			if !s.compacting && !s.noFree {
				cleared[s.seq] = 0
			}
			continue
		}
		// Unread page records keep their positions: never copied.
		if s.compacting || s.noCompact || s.paged > 0 || !(global || s.ratio() < j.ratio) {
			continue
		}
		if len(job) > 0 && (len(job) == maxCompactSegs || jobBytes+s.used > maxCompactBytes) {
			break
		}
		job = append(job, compactSeg{seq: s.seq, name: s.name, tag: s.tag, used: s.used})
		jobBytes += s.used
		cleared[s.seq] = 0
	}
	if len(job) == 0 {
		return
	}
	for _, c := range job {
		j.x.segs.get(c.seq).compacting = true
	}
	j.compOut = true
	j.compReq <- job
}

func (j *Journal) onCompacted(res compactResult) {
	j.compOut = false
	j.x.reclaimable = true
	for _, c := range res.job {
		if s := j.x.segs.get(c.seq); s != nil {
			s.compacting = false
		}
	}
	if s := j.x.segs.get(res.failed); s != nil {
		s.noCompact = true
		j.log.Warn("journal: compaction failed; the segment stays until restart", "file", s.name, "error", res.err)
	}
	for _, seq := range res.done {
		s := j.x.segs.get(seq)
		if s == nil {
			continue
		}
		j.stats.compactions++
		if s.liveOps != 0 {
			// Cannot happen: every live record was offered. Do not retry forever.
			s.noCompact = true
			j.log.Error("journal: compacted segment still holds live records", "file", s.name, "live", s.liveOps)
		}
	}
}

// I/O through the hooks, so tests can inject faults and take crash images.

func (j *Journal) io(step ioStep, fn func() error) error {
	if j.hooks == nil {
		return fn()
	}
	if j.hooks.noSync && (step.op == "sync" || step.op == "syncdir") {
		return nil
	}
	j.hookMu.Lock()
	defer j.hookMu.Unlock()
	if j.hooks.before != nil {
		if n, err := j.hooks.before(step); err != nil {
			if step.op == "write" && n > 0 && step.write != nil {
				step.write(n)
			}
			return err
		}
	}
	if err := fn(); err != nil {
		return err
	}
	if j.hooks.after != nil {
		j.hooks.after(step)
	}
	return nil
}

func (j *Journal) writeAt(f *os.File, b []byte, off int64) error {
	partial := func(n int) { f.WriteAt(b[:min(n, len(b))], off) }
	return j.io(ioStep{op: "write", path: f.Name(), n: len(b), write: partial}, func() error {
		n, err := f.WriteAt(b, off)
		if err == nil && n != len(b) {
			err = io.ErrShortWrite
		}
		return err
	})
}

func (j *Journal) fsync(f *os.File) error {
	err := j.io(ioStep{op: "sync", path: f.Name()}, func() error { return fdatasync(f) })
	if err == nil {
		j.stats.syncs.Add(1)
	}
	return err
}

func (j *Journal) truncate(f *os.File, size int64) error {
	return j.io(ioStep{op: "truncate", path: f.Name(), n: int(size)}, func() error { return f.Truncate(size) })
}

func (j *Journal) rename(from, to string) error {
	return j.io(ioStep{op: "rename", path: from}, func() error { return os.Rename(from, to) })
}

func (j *Journal) remove(path string) error {
	return j.io(ioStep{op: "remove", path: path}, func() error { return os.Remove(path) })
}

func (j *Journal) syncDir() error {
	return j.io(ioStep{op: "syncdir", path: j.dir}, func() error { return syncDir(j.dir) })
}

// ioStep describes one I/O operation to the test hooks.
type ioStep struct {
	op    string // write, sync, truncate, rename, remove, syncdir, zerofill
	path  string
	n     int
	write func(n int) // writes the first n bytes: a torn write
}

type hooks struct {
	// before runs before each step; an error fails the step unperformed,
	// except that a write first writes n bytes when n > 0 (a torn write).
	before func(ioStep) (n int, err error)
	// after runs after each successful step, with all journal I/O held off:
	// the folder is then a consistent image of a crash at that moment.
	after func(ioStep)
	// noSync skips syncs: for tests of recovery logic, not of durability.
	noSync bool
}
