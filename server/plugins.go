package server

import (
	"log/slog"

	"github.com/junctionmq/junction/config"
	"github.com/junctionmq/junction/plugins"
	// The built-in plugins register themselves; a binary with plugins of
	// its own imports them the same way (docs/PLUGINS.md).
	_ "github.com/junctionmq/junction/plugins/audit"
	_ "github.com/junctionmq/junction/plugins/tracing"
)

// loadPlugins builds the configured plugins; nil, and no error, when none
// is configured (every hook stays nil and costs nothing).
func loadPlugins(cfg *config.Config, log *slog.Logger) (*plugins.Set, error) {
	if len(cfg.Plugins) == 0 {
		return nil, nil
	}
	specs := make([]plugins.Spec, len(cfg.Plugins))
	for i, p := range cfg.Plugins {
		specs[i] = plugins.Spec{Name: p.Name, Options: p.Options}
	}
	set, err := plugins.Load(specs, log, cfg.Dir, cfg.Data)
	if err != nil {
		return nil, err
	}
	log.Info("plugins loaded", "plugins", set.Names())
	return set, nil
}
