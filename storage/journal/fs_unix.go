//go:build unix && !linux

package journal

import (
	"os"
	"syscall"
)

const mmapFlags = syscall.MAP_SHARED

// fdatasync falls back to fsync where the system has no fdatasync.
func fdatasync(f *os.File) error { return f.Sync() }
