package tracing

import (
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
)

// TestRingWraps: the ring keeps the latest capacity events, newest first in
// Recent, oldest first in Trace.
func TestRingWraps(t *testing.T) {
	tr := &Tracer{ring: make([]Event, 3)}
	for i := uint64(1); i <= 5; i++ {
		tr.addLocked(Event{Kind: "sent", Message: i})
	}
	var got []string
	for _, e := range tr.Recent(0) {
		got = append(got, strconv.FormatUint(e.Message, 10))
	}
	if strings.Join(got, ",") != "5,4,3" {
		t.Fatalf("Recent after wrapping: %v, want 5,4,3", got)
	}
	if len(tr.Trace(1)) != 0 || len(tr.Trace(4)) != 1 || tr.Trace(4)[0].MessageID != "ID:4" {
		t.Fatalf("Trace after wrapping: %+v %+v", tr.Trace(1), tr.Trace(4))
	}
	if n := len(tr.Recent(2)); n != 2 {
		t.Fatalf("Recent(2) returned %d", n)
	}
}

// TestTraceFollowsCopies: a dead-letter copy and the copy of that copy are
// one trace, looked up from any of them.
func TestTraceFollowsCopies(t *testing.T) {
	tr := &Tracer{ring: make([]Event, 10)}
	tr.addLocked(Event{Kind: "sent", Message: 1})
	tr.addLocked(Event{Kind: "sent", Message: 9}) // unrelated
	tr.addLocked(Event{Kind: "dead-lettered", Message: 1, To: 2})
	tr.addLocked(Event{Kind: "delivered", Message: 2, Origin: 1})
	tr.addLocked(Event{Kind: "expired", Message: 2, To: 3})
	tr.addLocked(Event{Kind: "acknowledged", Message: 3, Origin: 2})
	for _, id := range []uint64{1, 2, 3} {
		if got := len(tr.Trace(id)); got != 5 {
			t.Errorf("Trace(%d): %d events, want 5", id, got)
		}
	}
}

// FuzzTraceID: any path segment is answered with 200 or 400, never a
// panic, and an accepted id names the message it was read as.
func FuzzTraceID(f *testing.F) {
	for _, s := range []string{"ID:12", "12", "", "ID:", "ID:-1", "18446744073709551615", "18446744073709551616", " ID:7 ", "ID:0x10"} {
		f.Add(s)
	}
	tr := &Tracer{ring: make([]Event, 4)}
	f.Fuzz(func(t *testing.T, id string) {
		n := parseID(id)
		if n != 0 && !strings.Contains(id, strconv.FormatUint(n, 10)) {
			t.Fatalf("parseID(%q) = %d", id, n)
		}
		req := httptest.NewRequest("GET", "/api/v1/traces/x", nil)
		req.SetPathValue("id", id)
		rec := httptest.NewRecorder()
		tr.serveTrace(rec, req)
		if (n == 0) != (rec.Code == http.StatusBadRequest) || (n != 0 && rec.Code != http.StatusOK) {
			t.Fatalf("id %q (read as %d): status %d", id, n, rec.Code)
		}
	})
}
