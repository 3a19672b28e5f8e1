package postgres

import (
	"context"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/junctionmq/junction/internal/pgtest"
	"github.com/junctionmq/junction/storage"
)

func queryInt(t *testing.T, srv *pgtest.Server, db, sql string) int64 {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, srv.URL("", db))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	var n int64
	if err := conn.QueryRow(ctx, sql).Scan(&n); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	return n
}

// toVersion2 turns a database back into what schema 2 was: every
// reference a row of junction_refs, no inline columns.
func toVersion2(t *testing.T, srv *pgtest.Server, db string) {
	t.Helper()
	srv.Exec(t, db, `INSERT INTO junction_refs (queue_id, msg_id, seq, delivery_count, scheduled_at)
SELECT ref_queue, id, ref_seq, ref_dc, ref_sched FROM junction_messages WHERE ref_queue IS NOT NULL`)
	srv.Exec(t, db, "ALTER TABLE junction_messages DROP COLUMN ref_queue, DROP COLUMN ref_seq, DROP COLUMN ref_dc, DROP COLUMN ref_sched")
	srv.Exec(t, db, "DELETE FROM junction_schema WHERE version > 2")
}

func ack(q, m uint64) storage.Op { return storage.Op{Kind: storage.OpAck, QueueID: q, MsgID: m} }
func del(m uint64) storage.Op    { return storage.Op{Kind: storage.OpDeleteMessage, MsgID: m} }
func msgOp(m uint64, data string) storage.Op {
	return storage.Op{Kind: storage.OpAddMessage, MsgID: m, Data: []byte(data)}
}
func refOp(q, m uint64) storage.Op { return storage.Op{Kind: storage.OpAddRef, QueueID: q, MsgID: m} }

// TestInlineRefs: a message with one reference is one row, written by
// one statement and deleted by one; the references beyond the first, and
// those added later, are rows of junction_refs; wherever a reference is,
// it is acknowledged, updated, counted and recovered in order.
func TestInlineRefs(t *testing.T) {
	srv := pgtest.Get(t)
	db := srv.NewDB(t)
	url := srv.URL(srv.Addr(), db)
	s := openPaged(t, url, &pagedRecorder{})
	ops := []storage.Op{}
	for m := uint64(1); m <= 100; m++ {
		ops = append(ops, msgOp(m, "x"), refOp(1, m))
	}
	mustOK(t, applyWait(t, s, ops...))
	if n := queryInt(t, srv, db, "SELECT count(*) FROM junction_refs"); n != 0 {
		t.Fatalf("%d rows in junction_refs for messages of one reference each, want 0", n)
	}
	if n := queryInt(t, srv, db, "SELECT count(*) FROM junction_messages WHERE ref_queue = 1"); n != 100 {
		t.Fatalf("%d inline references, want 100", n)
	}
	ops = ops[:0]
	for m := uint64(1); m <= 98; m++ {
		ops = append(ops, ack(1, m), del(m))
	}
	mustOK(t, applyWait(t, s, ops...))
	// 99: a second reference, then the first acknowledged (the row
	// stays). 100: updated inline, and its reference added again (it
	// moves to junction_refs: recovered once).
	mustOK(t, applyWait(t, s, refOp(2, 99)))
	mustOK(t, applyWait(t, s, ack(1, 99), storage.Op{Kind: storage.OpUpdateRef, QueueID: 1, MsgID: 100, DeliveryCount: 4, ScheduledAt: 77}))
	// 101: two references in one group, the second in junction_refs.
	mustOK(t, applyWait(t, s, msgOp(101, "y"), refOp(3, 101), refOp(4, 101)))
	mustOK(t, applyWait(t, s, storage.Op{Kind: storage.OpUpdateRef, QueueID: 4, MsgID: 101, DeliveryCount: 2}))
	waitFor(t, func() bool { st := s.Stats(); return st.Messages == 3 && st.Refs == 4 })
	if n := queryInt(t, srv, db, "SELECT count(*) FROM junction_messages"); n != 3 {
		t.Fatalf("%d message rows, want 3", n)
	}
	_ = s.Close()

	rec := &pagedRecorder{}
	s = openPaged(t, url, rec)
	checkLoad(t, rec, []string{"message 99 x", "message 100 x", "message 101 y",
		"ref 1 100 4 77", "ref 2 99 0 0", "ref 3 101 0 0", "ref 4 101 2 0"})
	if st := s.Stats(); st.Messages != 3 || st.Refs != 4 {
		t.Fatalf("stats after Load %+v, want 3 messages and 4 references", st)
	}
	// After recovery, each reference is found where it is.
	mustOK(t, applyWait(t, s, refOp(1, 100)))
	// Stored again (a first attempt's plain insert finds it and the group
	// is written again, replacing): new data, its reference kept.
	mustOK(t, applyWait(t, s, msgOp(100, "z")))
	mustOK(t, applyWait(t, s, ack(2, 99), del(99), ack(3, 101)))
	mustOK(t, applyWait(t, s, ack(4, 101), del(101)))
	waitFor(t, func() bool { st := s.Stats(); return st.Messages == 1 && st.Refs == 1 })
	_ = s.Close()
	rec = &pagedRecorder{}
	s = openPaged(t, url, rec)
	checkLoad(t, rec, []string{"message 100 z", "ref 1 100 0 0"})
	if st := s.Stats(); st.Messages != 1 || st.Refs != 1 {
		t.Fatalf("stats after the second Load %+v", st)
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 10 s")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestMigrateFromVersion2: a database written before inline references
// (schema 2: every reference a row of junction_refs) keeps its state and
// order; its references are acknowledged and updated where they are, and
// new messages store theirs inline, recovered in the order added.
func TestMigrateFromVersion2(t *testing.T) {
	srv := pgtest.Get(t)
	db := srv.NewDB(t)
	url := srv.URL(srv.Addr(), db)
	s := openPaged(t, url, &pagedRecorder{})
	mustOK(t, applyWait(t, s, msgOp(1, "a"), refOp(1, 1), msgOp(2, "b"), refOp(1, 2), refOp(2, 2), msgOp(3, "c"), refOp(2, 3)))
	mustOK(t, applyWait(t, s, pageRef(1, 10, "p")))
	_ = s.Close()
	toVersion2(t, srv, db)
	if n := queryInt(t, srv, db, "SELECT count(*) FROM junction_refs"); n != 4 {
		t.Fatalf("%d references in junction_refs at version 2, want 4", n)
	}

	s2, err := Open(context.Background(), Options{URL: url, Logger: quiet()})
	if err != nil {
		t.Fatalf("Open on a version 2 database: %v", err)
	}
	if s2.Schema() != SchemaVersion() || SchemaVersion() < 3 {
		t.Fatalf("schema %d after opening, want %d", s2.Schema(), SchemaVersion())
	}
	rec := &pagedRecorder{}
	if err := s2.Load(context.Background(), rec); err != nil {
		t.Fatal(err)
	}
	checkLoad(t, rec, []string{"message 1 a", "message 2 b", "message 3 c",
		"ref 1 1 0 0", "ref 1 2 0 0", "ref 2 2 0 0", "ref 2 3 0 0", "paged 1 1 1"})
	mustOK(t, applyWait(t, s2, ack(1, 1), del(1), storage.Op{Kind: storage.OpUpdateRef, QueueID: 2, MsgID: 3, DeliveryCount: 5}))
	mustOK(t, applyWait(t, s2, msgOp(4, "d"), refOp(2, 4)))
	mustOK(t, applyWait(t, s2, ack(1, 2)))
	waitFor(t, func() bool { st := s2.Stats(); return st.Messages == 3 && st.Refs == 3 })
	_ = s2.Close()
	if n := queryInt(t, srv, db, "SELECT count(*) FROM junction_messages WHERE id = 4 AND ref_queue = 2"); n != 1 {
		t.Fatal("message 4's reference is not inline")
	}
	rec = &pagedRecorder{}
	openPaged(t, url, rec)
	checkLoad(t, rec, []string{"message 2 b", "message 3 c", "message 4 d",
		"ref 2 2 0 0", "ref 2 3 5 0", "ref 2 4 0 0", "paged 1 1 1"})
}

// writerScan finds what a writer statement must not do on a table that
// holds every message: read it whole.
var writerScan = regexp.MustCompile(`(?m)(Seq Scan on junction_(messages|refs|bindings)( |$)|Hash Join|Merge Join)`)

// TestWriterPlans keeps the writer's statements on index probes in the
// store's sessions, generic plans included, with the statistics of a
// queue that drains as fast as it fills (a few live rows among many
// dead): the plan that read the whole table once per group.
func TestWriterPlans(t *testing.T) {
	srv := pgtest.Get(t)
	db := srv.NewDB(t)
	url := srv.URL(srv.Addr(), db)
	s := openPaged(t, url, &pagedRecorder{})
	mustOK(t, applyWait(t, s, msgOp(1, "a"), refOp(1, 1), refOp(2, 1),
		storage.Op{Kind: storage.OpPutBinding, Binding: storage.BindingQueue, Key: "q", Data: []byte("x")}))
	srv.Exec(t, db, "ANALYZE")
	cfg, err := connConfig(url)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(ctx, "SET plan_cache_mode = force_generic_plan"); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ name, sql, args string }{
		{"delete messages", sqlDelMsgs, "('{1,2}')"},
		{"delete references", sqlDelRefs, "('{1,2}', '{1,1}')"},
		{"update references", sqlUpdRefs, "('{1}', '{1}', '{1}', '{0}')"},
		{"clear inline", sqlClrInline, "('{1}', '{1}')"},
		{"update inline", sqlUpdInline, "('{1}', '{1}', '{1}', '{0}')"},
		{"insert messages", sqlInsMsgs, "('{5}', '{x}', '{1}', '{9}', '{0}', '{0}')"},
		{"insert references", sqlInsRefs, "('{1}', '{5}', '{9}', '{0}', '{0}')"},
		{"delete bindings", sqlDelBinds, "('{2}', '{q}')"},
	} {
		name := "w_" + strings.ReplaceAll(c.name, " ", "_")
		if _, err := conn.Exec(ctx, "PREPARE "+name+" AS "+c.sql); err != nil {
			t.Fatalf("%s: PREPARE: %v", c.name, err)
		}
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
		if text := strings.Join(plan, "\n"); writerScan.MatchString(text) {
			t.Errorf("%s reads more than the rows it names:\n%s", c.name, text)
		}
	}
}

// TestRefusedGroupKeepsPlaces: a group the database refuses changes
// nothing, including the writer's record of which references are rows of
// junction_refs: a later acknowledgement still finds its row.
func TestRefusedGroupKeepsPlaces(t *testing.T) {
	srv := pgtest.Get(t)
	db := srv.NewDB(t)
	url := srv.URL(srv.Addr(), db)
	s := openPaged(t, url, &pagedRecorder{})
	mustOK(t, applyWait(t, s, msgOp(1, "a"), refOp(1, 1), refOp(2, 1)))
	srv.Exec(t, db, "ALTER TABLE junction_refs ADD CONSTRAINT no666 CHECK (queue_id <> 666)")
	// The acknowledgement of (2, 1) and the new (666, 2) would change
	// where references are; the check refuses the group.
	if err := applyWait(t, s, ack(2, 1), msgOp(2, "b"), refOp(1, 2), refOp(666, 2)); err == nil {
		t.Fatal("the database accepted a group its check refuses")
	}
	srv.Exec(t, db, "ALTER TABLE junction_refs DROP CONSTRAINT no666")
	mustOK(t, applyWait(t, s, ack(2, 1)))
	if n := queryInt(t, srv, db, "SELECT count(*) FROM junction_refs"); n != 0 {
		t.Fatalf("%d rows in junction_refs after the acknowledgement, want 0", n)
	}
	_ = s.Close()
	rec := &pagedRecorder{}
	openPaged(t, url, rec)
	checkLoad(t, rec, []string{"message 1 a", "ref 1 1 0 0"})
}

// TestErrorAtCommit: an error PostgreSQL raises only at COMMIT (a
// deferred trigger here) fails the group and stores none of it: a durable
// op is confirmed only once its transaction committed.
func TestErrorAtCommit(t *testing.T) {
	srv := pgtest.Get(t)
	db := srv.NewDB(t)
	url := srv.URL(srv.Addr(), db)
	s := openPaged(t, url, &pagedRecorder{})
	srv.Exec(t, db, `CREATE FUNCTION refuse_at_commit() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN IF NEW.id = 666 THEN RAISE EXCEPTION 'refused at commit'; END IF; RETURN NULL; END $$`)
	srv.Exec(t, db, `CREATE CONSTRAINT TRIGGER refuse AFTER INSERT ON junction_messages
DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION refuse_at_commit()`)
	if err := applyWait(t, s, msgOp(665, "a"), refOp(1, 665), msgOp(666, "b"), refOp(1, 666)); err == nil {
		t.Fatal("a group whose commit failed was confirmed")
	}
	if n := queryInt(t, srv, db, "SELECT count(*) FROM junction_messages"); n != 0 {
		t.Fatalf("%d messages stored by a group whose commit failed", n)
	}
	mustOK(t, applyWait(t, s, msgOp(1, "c"), refOp(1, 1)))
	_ = s.Close()
	rec := &pagedRecorder{}
	openPaged(t, url, rec)
	checkLoad(t, rec, []string{"message 1 c", "ref 1 1 0 0"})
}
