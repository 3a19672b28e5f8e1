package postgres

import (
	"context"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/junctionmq/junction/internal/pgtest"
	"github.com/junctionmq/junction/storage"
)

// pagedRecorder records Load's calls, paged queues included, as strings.
type pagedRecorder struct{ events []string }

func (r *pagedRecorder) Binding(kind storage.BindingKind, key string, data []byte) error {
	r.events = append(r.events, fmt.Sprintf("binding %d %s", kind, key))
	return nil
}
func (r *pagedRecorder) Message(id uint64, data []byte) error {
	r.events = append(r.events, fmt.Sprintf("message %d %s", id, data))
	return nil
}
func (r *pagedRecorder) Ref(q, m uint64, dc uint32, sched int64) error {
	r.events = append(r.events, fmt.Sprintf("ref %d %d %d %d", q, m, dc, sched))
	return nil
}
func (r *pagedRecorder) Paged(q uint64, count, bytes int64) error {
	r.events = append(r.events, fmt.Sprintf("paged %d %d %d", q, count, bytes))
	return nil
}

func openPaged(t *testing.T, url string, r storage.Recovery) *Store {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	s, err := Open(ctx, Options{URL: url, Logger: quiet()})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })
	if err := s.Load(ctx, r); err != nil {
		t.Fatalf("Load: %v", err)
	}
	return s
}

func pageRef(q, m uint64, data string) storage.Op {
	return storage.Op{Kind: storage.OpPageRef, QueueID: q, MsgID: m, Data: []byte(data)}
}

func readAll(t *testing.T, s *Store, q, after uint64, max int) []storage.PagedRef {
	t.Helper()
	var out []storage.PagedRef
	err := s.ReadPaged(q, after, max, func(p storage.PagedRef) error {
		p.Data = slices.Clone(p.Data)
		out = append(out, p)
		return nil
	})
	if err != nil {
		t.Fatalf("ReadPaged: %v", err)
	}
	return out
}

func ids(ps []storage.PagedRef) []uint64 {
	var out []uint64
	for _, p := range ps {
		out = append(out, p.MsgID)
	}
	return out
}

// TestPagedInPlace checks what the in-place design must get right: a
// paged-in row is an ordinary message and reference (acknowledged,
// updated, deleted through its id) that Load reports in its place among
// the ordinary references, while the rows after the mark are only counted,
// and positions keep growing across restarts.
func TestPagedInPlace(t *testing.T) {
	srv := pgtest.Get(t)
	url := srv.URL(srv.Addr(), srv.NewDB(t))
	s := openPaged(t, url, &pagedRecorder{})

	// Queue 1: two ordinary refs, then five paged, then one ordinary.
	mustOK(t, applyWait(t, s, addMsg(1)...))
	mustOK(t, applyWait(t, s, addMsg(2)...))
	mustOK(t, applyWait(t, s, pageRef(1, 10, "a"), pageRef(1, 11, "bb")))
	mustOK(t, applyWait(t, s, pageRef(1, 12, "ccc"), pageRef(1, 13, "dddd"), pageRef(1, 14, "eeeee")))
	mustOK(t, applyWait(t, s, pageRef(2, 20, "x")))
	if st := s.Stats(); st.Paged != 6 || st.Messages != 2 || st.Refs != 2 {
		t.Fatalf("Stats = %+v, want 6 paged, 2 messages, 2 refs", st)
	}
	got := readAll(t, s, 1, 0, 3)
	if !slices.Equal(ids(got), []uint64{10, 11, 12}) || string(got[1].Data) != "bb" {
		t.Fatalf("ReadPaged(1, 0, 3) = %v", ids(got))
	}
	if next := readAll(t, s, 1, got[2].Pos, 10); !slices.Equal(ids(next), []uint64{13, 14}) {
		t.Fatalf("ReadPaged after %d = %v", got[2].Pos, ids(next))
	}
	// Page in 10 and 11; 10 is acknowledged and deleted in the same group
	// as its page-in, 11 is redelivered once and stays.
	mustOK(t, applyWait(t, s,
		storage.Op{Kind: storage.OpPageIn, QueueID: 1, MsgID: 10, Pos: got[0].Pos},
		storage.Op{Kind: storage.OpAck, QueueID: 1, MsgID: 10},
		storage.Op{Kind: storage.OpDeleteMessage, MsgID: 10},
		storage.Op{Kind: storage.OpPageIn, QueueID: 1, MsgID: 11, Pos: got[1].Pos}))
	mustOK(t, applyWait(t, s, storage.Op{Kind: storage.OpUpdateRef, QueueID: 1, MsgID: 11, DeliveryCount: 1, ScheduledAt: 77}))
	// Page in 12, acknowledge it without deleting it (another reference
	// to it, in queue 3, keeps the message).
	mustOK(t, applyWait(t, s,
		storage.Op{Kind: storage.OpPageIn, QueueID: 1, MsgID: 12, Pos: got[2].Pos},
		storage.Op{Kind: storage.OpAddRef, QueueID: 3, MsgID: 12},
		storage.Op{Kind: storage.OpAck, QueueID: 1, MsgID: 12}))
	if next := readAll(t, s, 1, 0, 10); !slices.Equal(ids(next), []uint64{13, 14}) {
		t.Fatalf("ReadPaged from the start after paging in = %v, want [13 14]", ids(next))
	}
	if st := s.Stats(); st.Paged != 3 || st.Messages != 4 || st.Refs != 4 {
		t.Fatalf("Stats = %+v, want 3 paged, 4 messages (1 2 11 12), 4 refs", st)
	}
	mustOK(t, applyWait(t, s, addMsg(3)...))
	_ = s.Close()

	rec := &pagedRecorder{}
	s = openPaged(t, url, rec)
	want := []string{
		"message 1 m", "message 2 m", "message 3 m", "message 11 bb", "message 12 ccc",
		"ref 1 1 0 0", "ref 1 2 0 0", "ref 1 11 1 77", "ref 3 12 0 0", "ref 1 3 0 0",
		"paged 1 2 9", "paged 2 1 1",
	}
	checkLoad(t, rec, want)
	if st := s.Stats(); st.Paged != 3 || st.Messages != 5 || st.Refs != 5 {
		t.Fatalf("Stats after Load = %+v, want 3 paged, 5 messages, 5 refs", st)
	}
	// A paged reference added now comes after every earlier position; a
	// drop of everything up to 13 leaves 14 and it.
	mustOK(t, applyWait(t, s, pageRef(1, 15, "f")))
	rest := readAll(t, s, 1, 0, 10)
	if !slices.Equal(ids(rest), []uint64{13, 14, 15}) || rest[2].Pos <= rest[1].Pos {
		t.Fatalf("ReadPaged = %v", rest)
	}
	mustOK(t, applyWait(t, s, storage.Op{Kind: storage.OpPageDrop, QueueID: 1, Pos: rest[0].Pos}))
	if next := readAll(t, s, 1, 0, 10); !slices.Equal(ids(next), []uint64{14, 15}) {
		t.Fatalf("after dropping 13: %v", ids(next))
	}
	// The deleted message of a paged-in row goes with its row; a drop
	// past every position takes the queue's whole backlog and none of
	// what is paged after it in the same group.
	mustOK(t, applyWait(t, s,
		storage.Op{Kind: storage.OpAck, QueueID: 3, MsgID: 12},
		storage.Op{Kind: storage.OpDeleteMessage, MsgID: 12},
		storage.Op{Kind: storage.OpPageDrop, QueueID: 1, Pos: ^uint64(0)},
		pageRef(1, 16, "g")))
	if next := readAll(t, s, 1, 0, 10); !slices.Equal(ids(next), []uint64{16}) {
		t.Fatalf("after dropping all: %v", ids(next))
	}
	if st := s.Stats(); st.Paged != 2 || st.Messages != 4 || st.Refs != 4 {
		t.Fatalf("Stats = %+v, want 2 paged (16, 20), 4 messages, 4 refs", st)
	}
	_ = s.Close()
	rec = &pagedRecorder{}
	openPaged(t, url, rec)
	want = []string{
		"message 1 m", "message 2 m", "message 3 m", "message 11 bb",
		"ref 1 1 0 0", "ref 1 2 0 0", "ref 1 11 1 77", "ref 1 3 0 0",
		"paged 1 1 1", "paged 2 1 1",
	}
	checkLoad(t, rec, want)
}

// checkLoad compares Load's calls with want: in order, except among the
// messages and among the paged queues, whose order is free.
func checkLoad(t *testing.T, rec *pagedRecorder, want []string) {
	t.Helper()
	if got, want := normalise(rec.events), normalise(want); !slices.Equal(got, want) {
		t.Fatalf("Load =\n%q\nwant\n%q", got, want)
	}
}

func normalise(events []string) []string {
	got := slices.Clone(events)
	for _, kind := range []string{"message ", "paged "} {
		first, last := -1, -1
		for i, e := range got {
			if strings.HasPrefix(e, kind) {
				if first < 0 {
					first = i
				}
				last = i
			}
		}
		if first >= 0 {
			slices.Sort(got[first : last+1])
		}
	}
	return got
}

// TestPagedNeedsPagedRecovery: a broker that cannot take paged references
// must not start on a store that holds some as if they were not there.
func TestPagedNeedsPagedRecovery(t *testing.T) {
	srv := pgtest.Get(t)
	url := srv.URL(srv.Addr(), srv.NewDB(t))
	s := openPaged(t, url, &pagedRecorder{})
	mustOK(t, applyWait(t, s, pageRef(1, 1, "a")))
	_ = s.Close()
	s2, err := Open(context.Background(), Options{URL: url, Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	if err := s2.Load(context.Background(), &plainRecorder{}); err == nil {
		t.Fatal("Load into a Recovery without Paged succeeded")
	}
}

type plainRecorder struct{}

func (plainRecorder) Binding(storage.BindingKind, string, []byte) error { return nil }
func (plainRecorder) Message(uint64, []byte) error                      { return nil }
func (plainRecorder) Ref(uint64, uint64, uint32, int64) error           { return nil }

func mustOK(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// TestMigrateFromVersion1: a database written by a broker before paging
// (schema 1) keeps its messages and gains the paging tables.
func TestMigrateFromVersion1(t *testing.T) {
	srv := pgtest.Get(t)
	db := srv.NewDB(t)
	url := srv.URL(srv.Addr(), db)
	s := openPaged(t, url, &pagedRecorder{})
	mustOK(t, applyWait(t, s, addMsg(1)...))
	_ = s.Close()
	// Back to what schema 1 was.
	srv.Exec(t, db, "DROP TABLE junction_paged, junction_paged_queues")
	toVersion2(t, srv, db) // message 1's reference moves to junction_refs
	srv.Exec(t, db, "DELETE FROM junction_schema WHERE version > 1")
	s2, err := Open(context.Background(), Options{URL: url, Logger: quiet()})
	if err != nil {
		t.Fatalf("Open on a version 1 database: %v", err)
	}
	defer s2.Close()
	if s2.Schema() != SchemaVersion() || SchemaVersion() < 2 {
		t.Fatalf("schema %d after opening, want %d", s2.Schema(), SchemaVersion())
	}
	rec := &pagedRecorder{}
	if err := s2.Load(context.Background(), rec); err != nil {
		t.Fatal(err)
	}
	checkLoad(t, rec, []string{"message 1 m", "ref 1 1 0 0"})
	mustOK(t, applyWait(t, s2, pageRef(1, 2, "p")))
	if got := readAll(t, s2, 1, 0, 10); !slices.Equal(ids(got), []uint64{2}) {
		t.Fatalf("ReadPaged after the migration = %v", ids(got))
	}
}

// seqScanPaged finds a sequential or bitmap scan of junction_paged (not
// of junction_paged_queues, a row per queue) in a plan: the planner picks
// a bitmap scan for a range it thinks large, as it did when the mark move
// bounded its count from above only.
var seqScanPaged = regexp.MustCompile(`(?m)(Seq|Bitmap Heap) Scan on junction_paged( |$)`)

// TestPagedPlans keeps the paging statements on the primary key's ranges,
// as pgx runs them (cached statements, so generic plans): a statement
// that scans junction_paged whole costs a second per call on a queue of
// millions, which the contract suite's small queues never show.
func TestPagedPlans(t *testing.T) {
	srv := pgtest.Get(t)
	db := srv.NewDB(t)
	url := srv.URL(srv.Addr(), db)
	s := openPaged(t, url, &pagedRecorder{})
	body := string(make([]byte, 1024))
	for b := range 20 {
		ops := make([]storage.Op, 0, 1000)
		for i := range 1000 {
			ops = append(ops, pageRef(1, uint64(b*1000+i+1), body))
		}
		mustOK(t, applyWait(t, s, ops...))
	}
	got := readAll(t, s, 1, 0, 10000)
	mustOK(t, applyWait(t, s, storage.Op{Kind: storage.OpPageIn, QueueID: 1, MsgID: got[9999].MsgID, Pos: got[9999].Pos}))
	srv.Exec(t, db, "ANALYZE junction_paged")

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(ctx, "SET plan_cache_mode = force_generic_plan"); err != nil {
		t.Fatal(err)
	}
	mark, hi := got[9999].Pos, got[9999].Pos+100
	for _, c := range []struct {
		name, sql, args string
		want            string // in the plan: the bound that keeps the range short
	}{
		{"read", sqlReadPaged, fmt.Sprintf("(1, %d, 1024)", mark), ""},
		{"mark", sqlMarkPaged, fmt.Sprintf("('{1}', '{%d}')", hi), "Index Cond: ((queue_id = u.q) AND (pos > pq.mark) AND (pos <= u.mark))"},
		{"drop", sqlDropPaged, fmt.Sprintf("(1, %d, %d)", mark, hi), ""},
		{"delete paged-in", sqlDelPagedIn, fmt.Sprintf("('{1,1}', '{%d,%d}')", got[0].Pos, got[1].Pos), ""},
		{"ack paged-in", sqlDeadPagedIn, fmt.Sprintf("('{1}', '{%d}')", got[2].Pos), ""},
		{"update paged-in", sqlUpdPagedIn, fmt.Sprintf("('{1}', '{%d}', '{1}', '{0}')", got[3].Pos), ""},
		{"load paged-in", sqlLoadPagedIn, "", ""},
	} {
		name := "p_" + strings.NewReplacer(" ", "_", "-", "_").Replace(c.name)
		if _, err := conn.Exec(ctx, "PREPARE "+name+" AS "+c.sql); err != nil {
			t.Fatalf("%s: PREPARE: %v", c.name, err)
		}
		// EXPLAIN without ANALYZE: the statements that write do not run.
		rows, err := conn.Query(ctx, "EXPLAIN EXECUTE "+name+c.args, pgx.QueryExecModeSimpleProtocol)
		if err != nil {
			t.Fatalf("%s: EXPLAIN: %v", c.name, err)
		}
		var plan []string
		for rows.Next() {
			var line string
			if err := rows.Scan(&line); err != nil {
				t.Fatal(err)
			}
			plan = append(plan, line)
		}
		if err := rows.Err(); err != nil {
			t.Fatalf("%s: EXPLAIN: %v", c.name, err)
		}
		text := strings.Join(plan, "\n")
		if seqScanPaged.MatchString(text) || !strings.Contains(text, c.want) {
			t.Errorf("%s scans more of junction_paged than its range:\n%s", c.name, text)
		}
	}
}
