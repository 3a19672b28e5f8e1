package server

import (
	"log/slog"

	"github.com/junctionmq/junction/config"
	"github.com/junctionmq/junction/storage"
	"github.com/junctionmq/junction/storage/memory"
)

// openJournal is replaced when storage/journal lands (tracked by the lead).
func openJournal(cfg *config.Config, repair bool, log *slog.Logger) (storage.Store, error) {
	_ = repair
	log.Warn("TEMPORARY: journal not wired yet, using memory")
	return memory.New(), nil
}
