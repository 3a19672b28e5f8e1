package transport

import (
	"slices"
	"testing"
)

type flushRecorder struct {
	listed bool
	got    *[]int
	id     int
}

func (r *flushRecorder) FlushBatched(i int) { *r.got = append(*r.got, r.id*100+i) }

func TestBatchFlush(t *testing.T) {
	var f BatchFlush
	var got []int
	a := &flushRecorder{got: &got, id: 1}
	b := &flushRecorder{got: &got, id: 2}
	if f.DeferLocked(a, &a.listed) {
		t.Fatal("deferred with no batch open: nobody would write it")
	}
	f.Enter()
	f.Enter()
	for _, c := range []*flushRecorder{a, b, a} {
		if !f.DeferLocked(c, &c.listed) {
			t.Fatal("not deferred inside a batch")
		}
	}
	f.Leave() // the first batch to end writes what is listed, once each
	if want := []int{100, 201}; !slices.Equal(got, want) {
		t.Fatalf("flushed %v, want %v", got, want)
	}
	if a.listed || b.listed {
		t.Fatal("still marked listed after the flush")
	}
	got = got[:0]
	f.Leave() // nothing listed since
	if len(got) != 0 {
		t.Fatalf("flushed %v with nothing listed", got)
	}
	if f.DeferLocked(a, &a.listed) {
		t.Fatal("deferred after every batch ended")
	}
}
