package testkit

import (
	"bytes"
	"runtime"
)

// GoroutinesIn counts the goroutines whose stack mentions any of funcs
// (substrings of qualified function names, such as
// "protocols/stomp.(*conn)"): how a test sees whether a parked connection
// still holds a goroutine.
func GoroutinesIn(funcs ...string) int {
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			buf = buf[:n]
			break
		}
		buf = make([]byte, 2*len(buf))
	}
	count := 0
	for _, g := range bytes.Split(buf, []byte("\n\n")) {
		for _, f := range funcs {
			if bytes.Contains(g, []byte(f)) {
				count++
				break
			}
		}
	}
	return count
}
