package journal

import (
	"errors"
	"fmt"
	"syscall"
	"time"
)

// A journal that cannot write keeps trying rather than failing for good, so
// that it resumes by itself once space comes back. Two states say so through
// Health (and Notify on every change):
//
//   - short: the next segment could not be prepared (a full disk, as a
//     rule). The active segment still takes what fits, which keeps acks
//     and records writable, and so keeps consumers able to free space;
//     what does not fit fails. The broker refuses durable sends meanwhile.
//     Preparation is retried with backoff, and at once when a segment is
//     freed (a pooled segment needs no new space).
//   - stalled: a group's write failed. Its operations are in the index
//     already, so the same bytes are written again, at the same offset,
//     with backoff, until they land or the journal closes; its requests
//     wait, later Apply calls fail at once.
//
// A failed sync stays fatal (failedError): after one, Linux may have
// dropped the dirty pages it could not write, so only a reopen, which reads
// the files back, knows what is on disk.

// ErrUnavailable matches the errors of a journal that cannot write for now
// and is retrying: Health reports one while the state lasts, and requests
// that could not be written fail with one.
var ErrUnavailable = errors.New("journal: cannot write for now")

// unavailableError is ErrUnavailable with its cause and what would help.
type unavailableError struct {
	what  string
	cause error
}

func (e *unavailableError) Error() string {
	return fmt.Sprintf("journal: %s, retrying: %v", e.what, e.cause)
}

func (e *unavailableError) Unwrap() []error { return []error{ErrUnavailable, e.cause} }

// Retries back off from minRetryWait to maxRetryWait.
const (
	minRetryWait = 50 * time.Millisecond
	maxRetryWait = 2 * time.Second
)

func nextWait(d time.Duration) time.Duration {
	return min(max(2*d, minRetryWait), maxRetryWait)
}

// freeSpace returns the bytes an unprivileged writer can still use in dir's
// file system, or -1 when statfs fails.
func freeSpace(dir string) int64 {
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		return -1
	}
	return int64(st.Bavail) * int64(st.Bsize)
}

// setShort enters (or stays in) the short state after a failed preparation.
// Writer goroutine only.
func (j *Journal) setShort(cause error) {
	if j.shortErr != nil {
		return
	}
	j.shortErr = &unavailableError{what: fmt.Sprintf("no room for the next segment (%d bytes)", j.segSize), cause: cause}
	j.qmu.Lock()
	j.short = j.shortErr
	j.qmu.Unlock()
	j.publishStats()
	j.log.Error("journal: cannot prepare the next segment; durable sends are refused until space is freed",
		"dir", j.dir, "free", freeSpace(j.dir), "need", j.segSize, "error", cause)
	j.Changed()
}

// clearShort leaves the short state once a segment is prepared. Writer
// goroutine only.
func (j *Journal) clearShort() {
	j.prepWait = 0
	if j.shortErr == nil {
		return
	}
	j.shortErr = nil
	j.qmu.Lock()
	j.short = nil
	j.qmu.Unlock()
	j.publishStats()
	j.log.Info("journal: the next segment is prepared; writes resume", "dir", j.dir, "free", freeSpace(j.dir))
	j.Changed()
}

// schedulePrepare retries a failed preparation after a backoff. Writer
// goroutine only.
func (j *Journal) schedulePrepare() {
	if j.retryC != nil || j.wclosing {
		return
	}
	j.prepWait = nextWait(j.prepWait)
	j.retryC = time.After(j.prepWait)
}

// onRetry is the backoff timer's turn.
func (j *Journal) onRetry() {
	j.retryC = nil
	if j.next == nil {
		j.requestPrepare()
	}
}

// retryWrite writes a group whose first write failed with err again, with
// backoff, until it lands (true) or the journal closes (false). Meanwhile
// Health reports the failure and Apply refuses new requests. Writer
// goroutine only.
func (j *Journal) retryWrite(err error, write func() error) bool {
	stalled := &unavailableError{what: fmt.Sprintf("writing %s failed", j.active.name), cause: err}
	j.qmu.Lock()
	if j.qerr == nil {
		j.qerr = stalled
	}
	j.qmu.Unlock()
	j.log.Error("journal: a write failed; retrying it, new operations are refused until it succeeds",
		"dir", j.dir, "free", freeSpace(j.dir), "need", len(j.gbuf), "error", err)
	j.Changed()
	ok := false
	for wait := nextWait(0); ; wait = nextWait(wait) {
		if !j.pause(wait) {
			break
		}
		if write() == nil {
			ok = true
			break
		}
	}
	j.qmu.Lock()
	if j.qerr == stalled {
		j.qerr = nil
	}
	j.qmu.Unlock()
	if ok {
		j.log.Info("journal: the write succeeded; writes resume", "dir", j.dir, "free", freeSpace(j.dir))
		j.Changed()
	}
	return ok
}

// pause waits for d, and reports false if the journal is closing.
func (j *Journal) pause(d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	for {
		select {
		case <-t.C:
			return !j.isClosing()
		case <-j.wake:
			if j.isClosing() {
				return false
			}
		}
	}
}

func (j *Journal) isClosing() bool {
	j.qmu.Lock()
	defer j.qmu.Unlock()
	return j.closing
}
