// Package memlimit finds how much memory the broker may use: the machine's
// memory, or its container's (cgroup) limit when that is lower.
package memlimit

import (
	"bufio"
	"bytes"
	"os"
	"path/filepath"
	"slices"
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

// cgroupLimit returns the lowest memory limit on the process's cgroup and
// its ancestors; 0 means none (v2 says "max", v1 a huge number).
func cgroupLimit() int64 { return cgroupLimitAt("/sys/fs/cgroup", "/proc/self/cgroup") }

// cgroupLimitAt reads the limits under root for the cgroup named in the
// self file. A systemd service's MemoryMax= is on its own cgroup
// (/sys/fs/cgroup/system.slice/NAME.service/memory.max), not on the root
// that a container with its own cgroup namespace sees as /: reading only
// /sys/fs/cgroup/memory.max found no limit for a service.
func cgroupLimitAt(root, self string) int64 {
	var lim int64
	take := func(p string) {
		if v := readNumber(p); v > 0 && v < 1<<60 && (lim == 0 || v < lim) {
			lim = v
		}
	}
	v2, v1 := cgroupPaths(self)
	// cgroup v2: the process's own group and each parent up to the root.
	for dir := v2; ; dir = filepath.Dir(dir) {
		take(filepath.Join(root, dir, "memory.max"))
		if dir == "/" || dir == "." || dir == "" {
			break
		}
	}
	// cgroup v1's memory controller, as a container sees it and at the
	// process's own group.
	take(filepath.Join(root, "memory", "memory.limit_in_bytes"))
	if v1 != "" {
		take(filepath.Join(root, "memory", v1, "memory.limit_in_bytes"))
	}
	return lim
}

// cgroupPaths reads /proc/self/cgroup: the v2 group ("0::/path") and the
// v1 memory controller's ("N:memory:/path"); "/" when not listed.
func cgroupPaths(self string) (v2, v1 string) {
	v2 = "/"
	b, err := os.ReadFile(self)
	if err != nil {
		return v2, ""
	}
	for _, line := range strings.Split(string(b), "\n") {
		parts := strings.SplitN(line, ":", 3)
		if len(parts) != 3 || !strings.HasPrefix(parts[2], "/") {
			continue
		}
		switch {
		case parts[0] == "0" && parts[1] == "":
			v2 = filepath.Clean(parts[2])
		case slices.Contains(strings.Split(parts[1], ","), "memory"):
			v1 = filepath.Clean(parts[2])
		}
	}
	return v2, v1
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
