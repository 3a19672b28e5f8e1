package journal

import (
	"errors"
	"fmt"
)

var (
	// ErrNotJournal is returned by Open and Inspect for a folder that holds
	// files that are not a journal's, or a format file with a bad magic.
	ErrNotJournal = errors.New("journal: not a journal folder")
	// ErrNewerVersion is returned for a journal written by a newer format
	// version than this broker reads.
	ErrNewerVersion = errors.New("journal: written by a newer format version")
	// ErrLocked is returned by Open when another process (or another Journal
	// in this one) holds the folder.
	ErrLocked = errors.New("journal: folder in use by another journal")
	// ErrCorrupt matches every *CorruptError.
	ErrCorrupt = errors.New("journal: corrupt")
	// ErrNotLoaded is reported by Apply before Load has completed, and after
	// a Load that failed.
	ErrNotLoaded = errors.New("journal: not loaded")
	// ErrTooLarge is reported by Apply for operations whose encoding exceeds
	// MaxApplySize.
	ErrTooLarge = errors.New("journal: operations too large for one record")
	// ErrFailed matches the error every Apply reports once a sync (or the
	// seal of a segment) has failed; the journal must be reopened. Failures
	// it can retry (a full disk) report ErrUnavailable instead (space.go).
	ErrFailed = errors.New("journal: failed")
)

// CorruptError reports damage that recovery cannot attribute to a torn write
// at the end of the journal: it names the file and the byte offset.
type CorruptError struct {
	File   string
	Offset int64
	Reason string
}

func (e *CorruptError) Error() string {
	return fmt.Sprintf("journal: corrupt data in %s at offset %d: %s (start with repair enabled to skip it, losing the damaged records)", e.File, e.Offset, e.Reason)
}

// Is makes errors.Is(err, ErrCorrupt) true.
func (e *CorruptError) Is(target error) bool { return target == ErrCorrupt }

// failedError wraps the I/O error that put the journal into the failed state.
type failedError struct{ cause error }

func (e *failedError) Error() string {
	return fmt.Sprintf("journal: failed after an I/O error, reopen to continue: %v", e.cause)
}

func (e *failedError) Unwrap() []error { return []error{ErrFailed, e.cause} }
