package journal

import (
	"bytes"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
)

// segFile is a segment file found in the folder.
type segFile struct {
	seq  uint32
	name string
}

func segName(seq uint32) string { return fmt.Sprintf("%016x.seg", seq) }

const (
	poolPrefix    = "free-"
	tmpSuffix     = ".tmp"
	damagedSuffix = ".damaged"
)

// parseSegName returns the sequence number of a segment file name.
func parseSegName(name string) (uint32, bool) {
	hex, ok := strings.CutSuffix(name, ".seg")
	if !ok || len(hex) != 16 {
		return 0, false
	}
	v, err := strconv.ParseUint(hex, 16, 64)
	if err != nil || v == 0 || v > 0xFFFFFFFF {
		return 0, false
	}
	return uint32(v), true
}

// listing is the classified content of a data folder.
type listing struct {
	hasFormat bool
	segs      []segFile // ascending
	pool      []string
	temps     []string
	damaged   []string
	foreign   []string
}

func listDir(dir string) (listing, error) {
	var l listing
	entries, err := os.ReadDir(dir)
	if err != nil {
		return l, err
	}
	for _, e := range entries {
		name := e.Name()
		switch {
		case name == formatFileName:
			l.hasFormat = true
		case name == lockFileName:
		case name == "lost+found" && e.IsDir():
			// The root of a file system mounted for the journal alone.
		case strings.HasSuffix(name, tmpSuffix) && (strings.HasSuffix(strings.TrimSuffix(name, tmpSuffix), ".seg") || name == formatFileName+tmpSuffix):
			l.temps = append(l.temps, name)
		case strings.HasSuffix(name, damagedSuffix):
			l.damaged = append(l.damaged, name)
		case strings.HasPrefix(name, poolPrefix) && strings.HasSuffix(name, ".seg"):
			l.pool = append(l.pool, name)
		default:
			if seq, ok := parseSegName(name); ok && e.Type().IsRegular() {
				l.segs = append(l.segs, segFile{seq: seq, name: name})
			} else {
				l.foreign = append(l.foreign, name)
			}
		}
	}
	slices.SortFunc(l.segs, func(a, b segFile) int { return int(int64(a.seq) - int64(b.seq)) })
	slices.Sort(l.pool)
	return l, nil
}

func formatFileContent() []byte {
	return fmt.Appendf(nil, "%s\nformat %d\n", formatMagic, baseVersion)
}

// readFormatFile checks the format file of dir.
func readFormatFile(dir string) (int, error) {
	b, err := os.ReadFile(filepath.Join(dir, formatFileName))
	if err != nil {
		return 0, fmt.Errorf("journal: reading the format file: %w", err)
	}
	magic, rest, ok := bytes.Cut(b, []byte("\n"))
	if !ok || string(magic) != formatMagic {
		return 0, fmt.Errorf("%w: %s does not start with %q", ErrNotJournal, filepath.Join(dir, formatFileName), formatMagic)
	}
	line, _, _ := bytes.Cut(rest, []byte("\n"))
	vs, ok := strings.CutPrefix(string(line), "format ")
	v, err := strconv.Atoi(vs)
	if !ok || err != nil || v < 1 {
		return 0, fmt.Errorf("%w: %s has no valid format line", ErrNotJournal, filepath.Join(dir, formatFileName))
	}
	if v > formatVersion {
		return v, fmt.Errorf("%w: %s is format %d, this broker reads up to %d", ErrNewerVersion, dir, v, formatVersion)
	}
	return v, nil
}

// writeFileAtomic creates name in dir with content through a temporary file,
// a rename and a sync of the folder.
func writeFileAtomic(dir, name string, content []byte) error {
	tmp := filepath.Join(dir, name+tmpSuffix)
	f, err := os.OpenFile(tmp, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	if _, err := f.Write(content); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp, filepath.Join(dir, name)); err != nil {
		return err
	}
	return syncDir(dir)
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("syncing folder %s: %w", dir, err)
	}
	return nil
}

// lockDir takes an exclusive flock on the lock file of dir.
func lockDir(dir string) (*os.File, error) {
	f, err := os.OpenFile(filepath.Join(dir, lockFileName), os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("journal: opening the lock file: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("%w: %s", ErrLocked, dir)
		}
		return nil, fmt.Errorf("journal: locking %s: %w", dir, err)
	}
	return f, nil
}

// lockedByOther reports whether some process holds the lock of dir, without
// creating anything.
func lockedByOther(dir string) bool {
	f, err := os.Open(filepath.Join(dir, lockFileName))
	if err != nil {
		return false
	}
	defer f.Close()
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_SH|syscall.LOCK_NB); err != nil {
		return errors.Is(err, syscall.EWOULDBLOCK)
	}
	syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
	return false
}

// newTag returns a random non-zero tag different from old.
func newTag(old uint32) uint32 {
	var b [4]byte
	for {
		if _, err := rand.Read(b[:]); err != nil {
			// crypto/rand does not fail on Linux; keep going with what it gave.
			continue
		}
		if t := binary.LittleEndian.Uint32(b[:]); t != 0 && t != old {
			return t
		}
	}
}

var zeroChunk = make([]byte, 1<<20)

// zeroFill writes zeros to f over [from, to). Writing zeros rather than
// fallocating matters here: a write into a fallocated (unwritten) extent
// costs a metadata update on every later fdatasync, measured at twice the
// latency of overwriting written blocks.
// A close of stop abandons the work.
func zeroFill(f *os.File, from, to int64, stop <-chan struct{}) error {
	for off := from; off < to; {
		select {
		case <-stop:
			return errStopped
		default:
		}
		n := min(int64(len(zeroChunk)), to-off)
		if _, err := f.WriteAt(zeroChunk[:n], off); err != nil {
			return err
		}
		off += n
	}
	return nil
}

// mapFile maps the file at path read-only. Recovery decodes segments in the
// page cache this way, with no copy and no buffer; unmap releases it.
func mapFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	size := st.Size()
	if size > maxSegmentSize+1<<20 {
		return nil, fmt.Errorf("%s: %d bytes, larger than any segment", path, size)
	}
	if size == 0 {
		return []byte{}, nil
	}
	b, err := syscall.Mmap(int(f.Fd()), 0, int(size), syscall.PROT_READ, mmapFlags)
	if err != nil {
		return nil, fmt.Errorf("mapping %s: %w", path, err)
	}
	return b, nil
}

// dontNeed drops the pages of a mapping from the process (they stay in the
// page cache, and come back on the next access).
func dontNeed(b []byte) {
	if len(b) > 0 {
		_ = syscall.Madvise(b, syscall.MADV_DONTNEED)
	}
}

func unmap(b []byte) {
	if cap(b) > 0 {
		syscall.Munmap(b)
	}
}
