package selector

import (
	"fmt"
	"os"
	"runtime"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"github.com/junctionmq/junction/core/prop"
)

func threadCPU() time.Duration {
	var ts syscall.Timespec
	syscall.Syscall(syscall.SYS_CLOCK_GETTIME, 3 /* CLOCK_THREAD_CPUTIME_ID */, uintptr(unsafe.Pointer(&ts)), 0)
	return time.Duration(ts.Nano())
}

var cpuEnv Env = &testEnv{props: []prop.Property{
	{Name: "color", Value: prop.StringValue("red")},
	{Name: "weight", Value: prop.Int32Value(25)},
	{Name: "region", Value: prop.StringValue("us")},
}}

func TestCPU(t *testing.T) {
	if os.Getenv("CPUBENCH") == "" {
		t.Skip()
	}
	runtime.LockOSThread()
	big := newTestEnv()
	for _, c := range []struct {
		sel string
		env Env
	}{
		{"TRUE", cpuEnv},
		{"color = 'red'", cpuEnv},
		{"weight > 10", cpuEnv},
		{"region IN ('eu','us')", cpuEnv},
		{threeClauses, cpuEnv},
		{threeClauses, big},
		{"seq LIKE '%c_b%' AND uni LIKE 'h_l%o'", big},
		{"i32 * 2 + f32 BETWEEN 50 AND 60 OR JMSPriority > 7", big},
	} {
		s := MustParse(c.sel)
		best := time.Duration(1 << 62)
		const n = 100000
		for rep := 0; rep < 40; rep++ {
			t0 := threadCPU()
			for i := 0; i < n; i++ {
				s.Eval(c.env)
			}
			if d := threadCPU() - t0; d < best {
				best = d
			}
		}
		fmt.Printf("%-60s %6.1f ns/op (thread CPU, min)\n", c.sel, float64(best)/n)
	}
	best := time.Duration(1 << 62)
	for rep := 0; rep < 40; rep++ {
		t0 := threadCPU()
		for i := 0; i < 200000; i++ {
			sink = cpuEnv.Property("color")
			sink = cpuEnv.Property("weight")
			sink = cpuEnv.Property("region")
		}
		if d := threadCPU() - t0; d < best {
			best = d
		}
	}
	fmt.Printf("%-60s %6.1f ns/op\n", "floor: 3 Property calls", float64(best)/200000)
}
