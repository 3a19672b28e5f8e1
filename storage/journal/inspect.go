package journal

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
)

// Report describes a journal folder as Inspect read it.
type Report struct {
	Dir           string
	FormatVersion int
	InUse         bool // a process holds the folder's lock: figures may be moving
	Segments      []SegmentReport
	PoolSegments  int

	LiveMessages int
	LiveRefs     int
	LiveBindings int
	Paged        int64 // paged references not paged in or dropped
	PagedQueues  int   // queues that have some
	DiskBytes    int64 // size of the segment files, pool excluded
	UsedBytes    int64
	LiveBytes    int64

	// Damage lists what recovery would truncate or refuse, in words.
	Damage []string
}

// SegmentReport describes one segment file.
type SegmentReport struct {
	File      string
	Seq       uint32
	Size      int64 // file size
	UsedBytes int64 // header and records
	Records   int64
	Ops       map[string]int64 // operations by kind (add-message, ack, copy-ref, ...)
	LiveOps   int64
	LiveBytes int64
	LiveRatio float64 // live bytes over record bytes
	Sealed    bool
	Tail      bool     // the segment writing continues in
	Unused    bool     // prepared for a rollover, no records yet
	DependsOn []uint32 // older segments it cancels records of: it stays until they go
}

// Inspect reads the journal in dir without opening it for writing: it takes
// no lock, writes nothing and repairs nothing, and works while no broker
// runs (while one does, the figures are a moving snapshot).
func Inspect(dir string) (Report, error) {
	rep := Report{Dir: dir}
	l, err := listDir(dir)
	if err != nil {
		return rep, fmt.Errorf("journal: reading %s: %w", dir, err)
	}
	if !l.hasFormat {
		return rep, fmt.Errorf("%w: %s has no %s file", ErrNotJournal, dir, formatFileName)
	}
	if rep.FormatVersion, err = readFormatFile(dir); err != nil {
		return rep, err
	}
	rep.InUse = lockedByOther(dir)
	rep.PoolSegments = len(l.pool)
	rp := newReplayer(dir, modeInspect, slog.New(slog.DiscardHandler), l.segs)
	defer rp.close()
	if err := rp.run(context.Background()); err != nil {
		return rep, err
	}
	rep.Damage = rp.notes
	for _, s := range rp.x.segs.all() {
		sr := SegmentReport{
			File: s.name, Seq: s.seq, Size: s.size, UsedBytes: s.used, Records: s.records,
			Ops: map[string]int64{}, LiveOps: s.liveOps, LiveBytes: s.liveBytes, LiveRatio: s.ratio(),
			Sealed: s.sealed, Tail: s == rp.tail, DependsOn: append([]uint32(nil), s.deps...),
		}
		for i, n := range s.ops {
			if n > 0 {
				sr.Ops[opStatNames[i]] = n
			}
		}
		rep.Segments = append(rep.Segments, sr)
		rep.DiskBytes += s.size
		rep.UsedBytes += s.used
		rep.LiveBytes += s.liveBytes
	}
	for _, u := range rp.unused {
		sr := SegmentReport{File: u.name, Seq: u.seq, Unused: true, Ops: map[string]int64{}, LiveRatio: 1}
		if st, err := os.Stat(filepath.Join(dir, u.name)); err == nil {
			sr.Size = st.Size()
			rep.DiskBytes += sr.Size
		}
		rep.Segments = append(rep.Segments, sr)
	}
	rep.LiveMessages = rp.x.msgs.len()
	rep.LiveRefs = rp.x.refs.len()
	rep.LiveBindings = len(rp.x.binds)
	rep.Paged, rep.PagedQueues = rp.x.pages.count, len(rp.x.pages.queues)
	return rep, nil
}

// WriteText prints the report for an operator.
func (r Report) WriteText(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	state := ""
	if r.InUse {
		state = " (in use by a running broker: figures may be moving)"
	}
	fmt.Fprintf(tw, "journal %s, format %d%s\n", r.Dir, r.FormatVersion, state)
	paged := ""
	if r.Paged > 0 {
		paged = fmt.Sprintf(", %d paged references in %d queues", r.Paged, r.PagedQueues)
	}
	fmt.Fprintf(tw, "live: %d messages, %d references, %d bindings%s; %d of %d bytes used are live; %d bytes of segment files, %d pooled\n\n",
		r.LiveMessages, r.LiveRefs, r.LiveBindings, paged, r.LiveBytes, r.UsedBytes, r.DiskBytes, r.PoolSegments)
	fmt.Fprintln(tw, "FILE\tSEQ\tSIZE\tUSED\tRECORDS\tLIVE OPS\tLIVE BYTES\tLIVE RATIO\tSTATE\tOPERATIONS")
	for _, s := range r.Segments {
		st := "open"
		switch {
		case s.Unused:
			st = "unused"
		case s.Tail:
			st = "tail"
		case s.Sealed:
			st = "sealed"
		}
		if len(s.DependsOn) > 0 {
			st += fmt.Sprintf(" (waits for %v)", s.DependsOn)
		}
		var ops []string
		for _, name := range opStatNames {
			if n := s.Ops[name]; n > 0 {
				ops = append(ops, fmt.Sprintf("%s=%d", name, n))
			}
		}
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\t%d\t%d\t%.3f\t%s\t%s\n",
			s.File, s.Seq, s.Size, s.UsedBytes, s.Records, s.LiveOps, s.LiveBytes, s.LiveRatio, st, strings.Join(ops, " "))
	}
	if len(r.Damage) > 0 {
		fmt.Fprintln(tw, "\ndamage:")
		for _, d := range r.Damage {
			fmt.Fprintf(tw, "  %s\n", d)
		}
	}
	return tw.Flush()
}
