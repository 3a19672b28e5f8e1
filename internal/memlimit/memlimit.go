// Package memlimit finds how much memory the broker may use: the machine's
// memory, or its container's (cgroup) limit when that is lower.
package memlimit

import (
	"bufio"
	"bytes"
	"os"
	"strconv"
	"strings"
)

// Total returns min(cgroup memory limit, MemTotal) in bytes, or 0 when
// neither can be read (not Linux).
func Total() int64 {
	total := memTotal("/proc/meminfo")
	if c := cgroupLimit(); c > 0 && (total == 0 || c < total) {
		total = c
	}
	return total
}

// cgroupLimit reads cgroup v2's memory.max, then v1's limit_in_bytes; 0
// means none (v2 says "max", v1 a huge number).
func cgroupLimit() int64 {
	for _, p := range []string{"/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"} {
		if v := readNumber(p); v > 0 && v < 1<<60 {
			return v
		}
	}
	return 0
}

func readNumber(path string) int64 {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0
	}
	v, err := strconv.ParseInt(string(bytes.TrimSpace(b)), 10, 64)
	if err != nil {
		return 0
	}
	return v
}

// memTotal reads MemTotal (kB) from a meminfo file.
func memTotal(path string) int64 {
	f, err := os.Open(path)
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		rest, ok := strings.CutPrefix(sc.Text(), "MemTotal:")
		if !ok {
			continue
		}
		kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
		if err != nil {
			return 0
		}
		return kb << 10
	}
	return 0
}
