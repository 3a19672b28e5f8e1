package memlimit

import (
	"os"
	"path/filepath"
	"testing"
)

func TestMemTotal(t *testing.T) {
	p := filepath.Join(t.TempDir(), "meminfo")
	if err := os.WriteFile(p, []byte("MemFree:  1 kB\nMemTotal:       24683772 kB\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if got := memTotal(p); got != 24683772<<10 {
		t.Errorf("memTotal = %d", got)
	}
	if got := memTotal(filepath.Join(t.TempDir(), "none")); got != 0 {
		t.Errorf("memTotal of a missing file = %d, want 0", got)
	}
}

func TestTotalOnThisMachine(t *testing.T) {
	if _, err := os.Stat("/proc/meminfo"); err != nil {
		t.Skip("no /proc/meminfo")
	}
	if got := Total(); got < 64<<20 {
		t.Errorf("Total = %d, want the machine's memory", got)
	}
}

// TestCgroupLimitOfAService: a systemd service's MemoryMax= sits on its own
// group; a limit on a parent slice applies too, and the lowest one wins.
func TestCgroupLimitOfAService(t *testing.T) {
	root := t.TempDir()
	write := func(rel, content string) {
		t.Helper()
		p := filepath.Join(root, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	self := filepath.Join(t.TempDir(), "cgroup")
	if err := os.WriteFile(self, []byte("0::/system.slice/junction.service\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if got := cgroupLimitAt(root, self); got != 0 {
		t.Fatalf("no memory.max anywhere: limit %d, want 0", got)
	}
	write("system.slice/junction.service/memory.max", "max\n")
	if got := cgroupLimitAt(root, self); got != 0 {
		t.Fatalf("memory.max = max: limit %d, want 0", got)
	}
	write("system.slice/memory.max", "4294967296\n")
	if got := cgroupLimitAt(root, self); got != 4<<30 {
		t.Fatalf("slice limit 4 GiB: got %d", got)
	}
	write("system.slice/junction.service/memory.max", "1073741824\n")
	if got := cgroupLimitAt(root, self); got != 1<<30 {
		t.Fatalf("service limit 1 GiB under a 4 GiB slice: got %d", got)
	}
	// A container with its own cgroup namespace sees its group as /.
	if err := os.WriteFile(self, []byte("0::/\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	write("memory.max", "536870912\n")
	if got := cgroupLimitAt(root, self); got != 512<<20 {
		t.Fatalf("container limit 512 MiB: got %d", got)
	}
	// cgroup v1: the memory controller's group.
	if err := os.WriteFile(self, []byte("4:memory:/docker/abc\n2:cpu,cpuacct:/docker/abc\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	write("memory/docker/abc/memory.limit_in_bytes", "268435456\n")
	if got := cgroupLimitAt(root, self); got != 256<<20 {
		t.Fatalf("v1 limit 256 MiB: got %d", got)
	}
}
