package server

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/junctionmq/junction/config"
	"github.com/junctionmq/junction/storage"
	"github.com/junctionmq/junction/storage/postgres"
)

// openPostgres opens the PostgreSQL store. With an HA role it waits for the
// store lock while another broker holds it (ctx cancels the wait); without
// one, a store another broker holds is an error.
func openPostgres(ctx context.Context, cfg *config.Config, log *slog.Logger) (storage.Store, error) {
	ha := cfg.HA.Role != ""
	if ha {
		log.Info("ha role", "role", "backup", "ha", cfg.HA.Role, "state", "taking the store lock")
	}
	url, err := cfg.Store.DatabaseURL()
	if err != nil {
		return nil, err
	}
	p, err := postgres.Open(ctx, postgres.Options{
		URL:    url,
		Wait:   ha,
		Logger: log,
		OnWaiting: func() {
			log.Info("ha role", "role", "backup", "state", "another broker is live: waiting for the store lock, listeners closed")
		},
	})
	if err != nil {
		return nil, fmt.Errorf("opening the postgres store: %w", err)
	}
	attrs := []any{"store", "postgres", "schema-version", p.Schema(), "epoch", p.Epoch()}
	if ha {
		log.Info("ha role change", append([]any{"from", "backup", "to", "live"}, attrs...)...)
	} else {
		log.Info("store opened", attrs...)
	}
	return p, nil
}
