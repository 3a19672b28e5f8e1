package transport

import (
	"syscall"
	"unsafe"
)

// sysWrite is write(2) on a non-blocking socket without telling the Go
// scheduler, as syscall.Write does (entersyscall/exitsyscall). Such a write
// never blocks, so the P need not be handed off; what the hand-off costs is
// sysmon: when every P was idle it sleeps until the next entersyscall wakes
// it (a futex wake and a thread switch), and then polls every 20 µs until the
// process is idle again. A broker woken by each burst of input paid that per
// burst: about 15 % of its CPU on the AMQP queue path. sysmon still wakes for
// timers, the garbage collector and every ordinary system call.
func sysWrite(fd int, b []byte) (int, error) {
	if len(b) == 0 {
		return 0, nil
	}
	n, _, e := syscall.RawSyscall(syscall.SYS_WRITE, uintptr(fd), uintptr(unsafe.Pointer(&b[0])), uintptr(len(b)))
	if e != 0 {
		return 0, e
	}
	return int(n), nil
}
