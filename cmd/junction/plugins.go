package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/junctionmq/junction/plugins"
	// The built-ins register themselves from the server package, which
	// serve links; named here too so that the list never depends on it.
	_ "github.com/junctionmq/junction/plugins/audit"
	_ "github.com/junctionmq/junction/plugins/tracing"
)

func init() { extraCommands = append(extraCommands, newPluginsCmd) }

// newPluginsCmd lists the plugins compiled into this binary: the names the
// `plugins:` list of the configuration may use (docs/PLUGINS.md).
func newPluginsCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "plugins",
		Short: "List the plugins compiled into this binary (names for the plugins: list of the configuration)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			for _, name := range plugins.Registered() {
				fmt.Fprintln(cmd.OutOrStdout(), name)
			}
			return nil
		},
	}
}
