package tracing

import (
	"encoding/json"
	"net/http"
	"strconv"

	"github.com/junctionmq/junction/plugins"
)

// Routes are the tracing API the management listener serves (behind its
// authentication):
//
//	GET /api/v1/traces?limit=100      the latest events, newest first
//	GET /api/v1/traces/{id}           one message's events ("ID:12" or "12"), oldest first
func (t *Tracer) Routes() []plugins.Route {
	return []plugins.Route{
		{Pattern: "GET /api/v1/traces", Handler: http.HandlerFunc(t.serveRecent)},
		{Pattern: "GET /api/v1/traces/{id}", Handler: http.HandlerFunc(t.serveTrace)},
	}
}

type eventList struct {
	Message  string  `json:"message,omitempty"`
	Capacity int     `json:"capacity"`
	Items    []Event `json:"items"`
}

func (t *Tracer) serveRecent(w http.ResponseWriter, r *http.Request) {
	limit := 100
	if s := r.URL.Query().Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > 10_000 {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": "limit must be a number from 1 to 10000"})
			return
		}
		limit = n
	}
	writeJSON(w, http.StatusOK, eventList{Capacity: t.Capacity(), Items: nonNil(t.Recent(limit))})
}

func (t *Tracer) serveTrace(w http.ResponseWriter, r *http.Request) {
	raw := r.PathValue("id")
	id := parseID(raw)
	if id == 0 {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "a message id is ID:<number> or <number>"})
		return
	}
	writeJSON(w, http.StatusOK, eventList{Message: "ID:" + strconv.FormatUint(id, 10), Capacity: t.Capacity(), Items: nonNil(t.Trace(id))})
}

func nonNil(e []Event) []Event {
	if e == nil {
		return []Event{}
	}
	return e
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
