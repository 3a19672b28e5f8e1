package server

import (
	"fmt"
	"log/slog"

	"github.com/junctionmq/junction/config"
	"github.com/junctionmq/junction/storage"
	"github.com/junctionmq/junction/storage/journal"
)

// openJournal opens the journal in the data folder.
func openJournal(cfg *config.Config, repair bool, log *slog.Logger) (storage.Store, error) {
	j, err := journal.Open(cfg.Data, journal.Options{
		SegmentSize: int64(cfg.Store.SegmentSize),
		SyncPolicy:  cfg.Store.Sync,
		Repair:      repair,
		Logger:      log,
	})
	if err != nil {
		return nil, fmt.Errorf("opening the journal in %s: %w", cfg.Data, err)
	}
	return j, nil
}
