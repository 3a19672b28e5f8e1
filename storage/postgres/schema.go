package postgres

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"sort"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// ErrSchemaTooNew is returned when the database holds a schema newer than
// this broker knows: a newer broker migrated it, and this one could
// misread it.
var ErrSchemaTooNew = errors.New("postgres: the database schema is newer than this broker knows")

// migration is one embedded SQL file, named NNNN_what.sql.
type migration struct {
	version int
	name    string
	sql     string
}

func migrations() ([]migration, error) {
	entries, err := fs.ReadDir(migrationFiles, "migrations")
	if err != nil {
		return nil, err
	}
	var out []migration
	for _, e := range entries {
		num, _, ok := strings.Cut(e.Name(), "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil || v <= 0 {
			return nil, fmt.Errorf("postgres: migration file %q is not named NNNN_what.sql", e.Name())
		}
		data, err := migrationFiles.ReadFile("migrations/" + e.Name())
		if err != nil {
			return nil, err
		}
		out = append(out, migration{version: v, name: e.Name(), sql: string(data)})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].version < out[j].version })
	for i, m := range out {
		if m.version != i+1 {
			return nil, fmt.Errorf("postgres: migrations are not numbered 1, 2, ...: %s", m.name)
		}
	}
	return out, nil
}

// SchemaVersion is the newest schema this broker knows.
func SchemaVersion() int {
	ms, err := migrations()
	if err != nil || len(ms) == 0 {
		return 0
	}
	return ms[len(ms)-1].version
}

// Migration lock key; the store lock is lockKey. Both are per database.
const migrateKey int64 = 0x4a756e6374696f6f // "Junctioo"

// migrate brings the schema to SchemaVersion in one transaction, under a
// transaction-scoped advisory lock so that brokers starting together
// migrate once. It returns the version the database ends at.
func migrate(ctx context.Context, conn *pgx.Conn) (from, to int, err error) {
	ms, err := migrations()
	if err != nil {
		return 0, 0, err
	}
	tx, err := conn.Begin(ctx)
	if err != nil {
		return 0, 0, fmt.Errorf("postgres: migrating: %w", err)
	}
	defer func() { _ = tx.Rollback(ctx) }()
	if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock($1)", migrateKey); err != nil {
		return 0, 0, fmt.Errorf("postgres: migration lock: %w", err)
	}
	if _, err := tx.Exec(ctx, "CREATE TABLE IF NOT EXISTS junction_schema (version int NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())"); err != nil {
		return 0, 0, fmt.Errorf("postgres: schema version table: %w", err)
	}
	if err := tx.QueryRow(ctx, "SELECT coalesce(max(version), 0) FROM junction_schema").Scan(&from); err != nil {
		return 0, 0, fmt.Errorf("postgres: reading the schema version: %w", err)
	}
	latest := len(ms)
	if from > latest {
		return from, from, fmt.Errorf("%w: database at version %d, broker knows up to %d", ErrSchemaTooNew, from, latest)
	}
	for _, m := range ms[from:] {
		// No arguments: pgx sends it by the simple protocol, which runs
		// a file of several statements.
		if _, err := tx.Exec(ctx, m.sql); err != nil {
			return from, from, fmt.Errorf("postgres: migration %s: %w", m.name, err)
		}
		if _, err := tx.Exec(ctx, "INSERT INTO junction_schema (version) VALUES ($1)", m.version); err != nil {
			return from, from, fmt.Errorf("postgres: recording migration %s: %w", m.name, err)
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return from, from, fmt.Errorf("postgres: committing migrations: %w", err)
	}
	return from, latest, nil
}

// Migrate connects to url, brings its schema to SchemaVersion and returns
// the versions before and after. `junction store migrate` runs it alone.
func Migrate(ctx context.Context, url string) (from, to int, err error) {
	cfg, err := connConfig(url)
	if err != nil {
		return 0, 0, err
	}
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return 0, 0, fmt.Errorf("postgres: connecting: %w", err)
	}
	defer conn.Close(context.Background())
	return migrate(ctx, conn)
}
