package postgres

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/junctionmq/junction/internal/pgtest"
	"github.com/junctionmq/junction/storage"
	"github.com/junctionmq/junction/storage/storetest"
)

func openLoaded(t *testing.T, opts Options) (*Store, *storetest.Recorder) {
	t.Helper()
	if opts.Logger == nil {
		opts.Logger = quiet()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	s, err := Open(ctx, opts)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })
	rec := &storetest.Recorder{}
	if err := s.Load(ctx, rec); err != nil {
		t.Fatalf("Load: %v", err)
	}
	return s, rec
}

func applyWait(t *testing.T, s storage.Store, ops ...storage.Op) error {
	t.Helper()
	ch := make(chan error, 1)
	s.Apply(ops, true, func(err error) { ch <- err })
	select {
	case err := <-ch:
		return err
	case <-time.After(20 * time.Second):
		t.Fatal("done not called")
		return nil
	}
}

func addMsg(id uint64) []storage.Op {
	return []storage.Op{{Kind: storage.OpAddMessage, MsgID: id, Data: []byte("m")}, {Kind: storage.OpAddRef, QueueID: 1, MsgID: id}}
}

func TestSchemaTooNew(t *testing.T) {
	srv := pgtest.Get(t)
	db := srv.NewDB(t)
	url := srv.URL("", db)
	from, to, err := Migrate(context.Background(), url)
	if err != nil || from != 0 || to != SchemaVersion() {
		t.Fatalf("Migrate = %d, %d, %v; want 0, %d", from, to, err, SchemaVersion())
	}
	if from, to, err := Migrate(context.Background(), url); err != nil || from != to {
		t.Fatalf("second Migrate = %d, %d, %v; want nothing to do", from, to, err)
	}
	srv.Exec(t, db, "INSERT INTO junction_schema (version) VALUES ($1)", SchemaVersion()+1)
	if _, err := Open(context.Background(), Options{URL: url, Logger: quiet()}); !errors.Is(err, ErrSchemaTooNew) {
		t.Fatalf("Open against a newer schema = %v, want ErrSchemaTooNew", err)
	}
}

func TestLockedWithoutWait(t *testing.T) {
	url := pgtest.DB(t)
	openLoaded(t, Options{URL: url})
	if _, err := Open(context.Background(), Options{URL: url, Logger: quiet()}); !errors.Is(err, ErrLocked) {
		t.Fatalf("second Open = %v, want ErrLocked", err)
	}
}

// TestFencedByEpoch: a store whose epoch was taken over, with its session
// still alive, writes nothing more and reports ErrFenced.
func TestFencedByEpoch(t *testing.T) {
	srv := pgtest.Get(t)
	db := srv.NewDB(t)
	s, _ := openLoaded(t, Options{URL: srv.URL("", db)})
	if err := applyWait(t, s, addMsg(1)...); err != nil {
		t.Fatal(err)
	}
	srv.Exec(t, db, "UPDATE junction_holder SET epoch = epoch + 1")
	if err := applyWait(t, s, addMsg(2)...); !errors.Is(err, ErrFenced) {
		t.Fatalf("a write after the takeover = %v, want ErrFenced", err)
	}
	if err := s.Health(); !errors.Is(err, ErrFenced) {
		t.Fatalf("Health = %v, want ErrFenced", err)
	}
	if err := applyWait(t, s, addMsg(3)...); !errors.Is(err, ErrFenced) {
		t.Fatalf("a later write = %v, want ErrFenced", err)
	}
	_ = s.Close()
	_, rec := openLoaded(t, Options{URL: srv.URL("", db)})
	if n := len(rec.Events); n != 2 { // message 1 and its reference
		t.Fatalf("recovered %+v, want only message 1", rec.Events)
	}
}

// TestTakeover: a backup waits on the lock; when the live store's session
// is killed on the server, the backup takes the store with a new epoch and
// the old one, reconnecting, is fenced.
func TestTakeover(t *testing.T) {
	srv := pgtest.Get(t)
	db := srv.NewDB(t)
	url := srv.URL("", db)
	live, _ := openLoaded(t, Options{URL: url})
	if err := applyWait(t, live, addMsg(1)...); err != nil {
		t.Fatal(err)
	}
	waiting := make(chan struct{})
	type result struct {
		s   *Store
		err error
	}
	got := make(chan result, 1)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	go func() {
		s, err := Open(ctx, Options{URL: url, Wait: true, Logger: quiet(), OnWaiting: func() { close(waiting) }})
		got <- result{s, err}
	}()
	select {
	case <-waiting:
	case r := <-got:
		t.Fatalf("the backup did not wait: %v", r.err)
	case <-ctx.Done():
		t.Fatal("the backup never reported waiting")
	}
	srv.Exec(t, db, `SELECT pg_terminate_backend(pid) FROM pg_locks
		WHERE locktype = 'advisory' AND granted AND database = (SELECT oid FROM pg_database WHERE datname = current_database())`)
	var backup *Store
	select {
	case r := <-got:
		if r.err != nil {
			t.Fatalf("backup Open: %v", r.err)
		}
		backup = r.s
	case <-ctx.Done():
		t.Fatal("the backup did not take over")
	}
	defer backup.Close()
	if backup.Epoch() != live.Epoch()+1 {
		t.Fatalf("backup epoch %d, live %d", backup.Epoch(), live.Epoch())
	}
	rec := &storetest.Recorder{}
	if err := backup.Load(ctx, rec); err != nil || len(rec.Events) != 2 {
		t.Fatalf("backup Load: %v, %+v", err, rec.Events)
	}
	if err := applyWait(t, live, addMsg(2)...); !errors.Is(err, ErrFenced) {
		t.Fatalf("the old live store's write = %v, want ErrFenced", err)
	}
	if err := applyWait(t, backup, addMsg(3)...); err != nil {
		t.Fatalf("the new live store's write: %v", err)
	}
}

// TestCutAndResume: while the database cannot be reached Health reports
// it and writes fail; idle, the store notices the loss by itself and
// resumes once the database is back.
func TestCutAndResume(t *testing.T) {
	srv := pgtest.Get(t)
	db := srv.NewDB(t)
	proxy := pgtest.NewProxy(t, srv.Addr())
	s, _ := openLoaded(t, Options{URL: srv.URL(proxy.Addr(), db)})
	changed := make(chan struct{}, 1)
	s.Notify(func() {
		select {
		case changed <- struct{}{}:
		default:
		}
	})
	proxy.Cut()
	deadline := time.After(20 * time.Second)
	for s.Health() == nil { // noticed without a write
		select {
		case <-changed:
		case <-deadline:
			t.Fatal("the cut was not noticed")
		}
	}
	if !errors.Is(s.Health(), ErrUnavailable) {
		t.Fatalf("Health = %v, want ErrUnavailable", s.Health())
	}
	if err := applyWait(t, s, addMsg(1)...); err == nil {
		t.Fatal("a write while cut succeeded")
	}
	proxy.Heal()
	for s.Health() != nil {
		select {
		case <-changed:
		case <-deadline:
			t.Fatalf("still %v after the database came back", s.Health())
		}
	}
	if err := applyWait(t, s, addMsg(2)...); err != nil {
		t.Fatalf("a write after recovery: %v", err)
	}
}

// TestHeldGroupFailsAfterLimit: a group accepted just before the database
// went away waits for it, but not forever: after holdLimit it fails with
// the store's error, and was never confirmed.
func TestHeldGroupFailsAfterLimit(t *testing.T) {
	srv := pgtest.Get(t)
	db := srv.NewDB(t)
	proxy := pgtest.NewProxy(t, srv.Addr())
	s, _ := openLoaded(t, Options{URL: srv.URL(proxy.Addr(), db)})
	proxy.Cut()
	start := time.Now()
	err := applyWait(t, s, addMsg(1)...)
	took := time.Since(start)
	if !errors.Is(err, ErrUnavailable) {
		t.Fatalf("the held group ended with %v, want ErrUnavailable", err)
	}
	if took < holdLimit || took > holdLimit+5*time.Second {
		t.Fatalf("the held group failed after %v, want about %v", took, holdLimit)
	}
	proxy.Heal()
	_ = s.Close()
	_, rec := openLoaded(t, Options{URL: srv.URL("", db)})
	if len(rec.Events) != 0 {
		t.Fatalf("a failed group was stored: %+v", rec.Events)
	}
}
