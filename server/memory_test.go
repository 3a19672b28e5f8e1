package server

import "testing"

func TestMemoryLimit(t *testing.T) {
	for _, c := range []struct{ budget, total, want int64 }{
		{0, 8 << 30, 0},
		{-1, 8 << 30, 0},
		{1 << 30, 0, 1<<30 + 1<<29 + 64<<20},
		{4 << 30, 8 << 30, 4<<30 + 2<<30 + 64<<20},
		{8 << 30, 8 << 30, 8 << 30 / 10 * 9},
	} {
		if got := MemoryLimit(c.budget, c.total); got != c.want {
			t.Errorf("MemoryLimit(%d, %d) = %d, want %d", c.budget, c.total, got, c.want)
		}
	}
}
