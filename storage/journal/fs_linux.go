package journal

import (
	"os"
	"syscall"
)

// mmapFlags: populate the mapping at once rather than fault page by page.
const mmapFlags = syscall.MAP_SHARED | syscall.MAP_POPULATE

// fdatasync flushes the data of f and the metadata needed to read it back,
// not its timestamps: one device flush less than fsync.
func fdatasync(f *os.File) error {
	for {
		err := syscall.Fdatasync(int(f.Fd()))
		if err != syscall.EINTR {
			if err != nil {
				return &os.PathError{Op: "fdatasync", Path: f.Name(), Err: err}
			}
			return nil
		}
	}
}
