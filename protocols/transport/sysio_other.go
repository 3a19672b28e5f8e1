//go:build !linux

package transport

import "syscall"

// sysWrite is syscall.Write where no raw variant is used (see fdconn_linux.go).
func sysWrite(fd int, b []byte) (int, error) {
	n, err := syscall.Write(fd, b)
	if err != nil {
		return 0, err
	}
	return n, nil
}
