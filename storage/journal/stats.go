package journal

import (
	"sync/atomic"
	"time"

	"github.com/junctionmq/junction/storage"
)

// Stats describes a journal for the broker's logs and metrics.
type Stats struct {
	Segments     int   // segment files holding data, the active one included
	PoolSegments int   // freed segments kept for reuse
	DiskBytes    int64 // size of the segment files, pool excluded
	UsedBytes    int64 // bytes of records written in them
	LiveBytes    int64 // bytes of records holding current state

	LiveMessages int
	LiveRefs     int
	LiveBindings int
	Paged        int64 // unread page records (paged references)
	PagedQueues  int   // queues that have some

	RecoveredMessages int
	RecoveredRefs     int
	RecoveredBindings int
	RecoveryTime      time.Duration
	TruncatedTail     bool // Load cut a torn write off the end

	Applies       uint64 // Apply calls written
	Groups        uint64 // records written by group commit (one write each)
	Syncs         uint64 // fdatasync calls on the active segment
	Rollovers     uint64
	Compactions   uint64
	CopiedBytes   uint64 // bytes rewritten by compaction
	SegmentsFreed uint64
	FreedBytes    uint64

	Failed error // the I/O error that stopped the journal, if any
}

// statsState is kept by the writer goroutine (syncs by whoever syncs).
type statsState struct {
	applies, groups, rollovers uint64
	compactions, freed         uint64
	copiedBytes, freedBytes    uint64
	syncs                      atomic.Uint64
	pool                       int
	recoveryTime               time.Duration
	recMessages, recRefs       int
	recBindings                int
	truncated                  bool
}

// publishStats copies the writer's view for Stats. Writer goroutine only
// (or before it starts).
func (j *Journal) publishStats() {
	s := Stats{
		PoolSegments:      j.stats.pool,
		RecoveredMessages: j.stats.recMessages,
		RecoveredRefs:     j.stats.recRefs,
		RecoveredBindings: j.stats.recBindings,
		RecoveryTime:      j.stats.recoveryTime,
		TruncatedTail:     j.stats.truncated,
		Applies:           j.stats.applies,
		Groups:            j.stats.groups,
		Rollovers:         j.stats.rollovers,
		Compactions:       j.stats.compactions,
		CopiedBytes:       j.stats.copiedBytes,
		SegmentsFreed:     j.stats.freed,
		FreedBytes:        j.stats.freedBytes,
		Failed:            j.failErr,
	}
	if j.x != nil {
		for _, seg := range j.x.segs.list {
			if seg == nil {
				continue
			}
			s.Segments++
			s.DiskBytes += seg.size
			s.UsedBytes += seg.used
			s.LiveBytes += seg.liveBytes
		}
		s.LiveMessages = j.x.msgs.len()
		s.LiveRefs = j.x.refs.len()
		s.LiveBindings = len(j.x.binds)
		j.x.pages.mu.Lock()
		s.Paged, s.PagedQueues = j.x.pages.count, len(j.x.pages.queues)
		j.x.pages.mu.Unlock()
	}
	j.statsMu.Lock()
	j.snap = s
	j.statsMu.Unlock()
}

// Detail returns the journal's own figures as of the last group written.
func (j *Journal) Detail() Stats {
	j.statsMu.Lock()
	s := j.snap
	j.statsMu.Unlock()
	s.Syncs = j.stats.syncs.Load()
	return s
}

// Stats implements storage.Store: the figures every store reports.
func (j *Journal) Stats() storage.Stats {
	d := j.Detail()
	j.qmu.Lock()
	pending := j.outstanding
	j.qmu.Unlock()
	return storage.Stats{
		Messages: d.LiveMessages, Refs: d.LiveRefs, Paged: d.Paged, Bindings: d.LiveBindings, Bytes: d.DiskBytes,
		Pending: pending, Applies: d.Applies, Syncs: d.Syncs,
		LastSync: time.Duration(j.lastSync.Load()), Errors: j.errors.Load(),
		Pressure: j.pressure.Load(), Unavailable: j.Health(),
	}
}
