package main

import (
	"context"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/junctionmq/junction/config"
	"github.com/junctionmq/junction/storage/postgres"
)

func init() { extraCommands = append(extraCommands, newStoreCmd) }

func newStoreCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "store",
		Short: "Manage the message store",
	}
	var cfgPath, url string
	migrate := &cobra.Command{
		Use:   "migrate",
		Short: "Create or migrate the PostgreSQL store's schema, and nothing else",
		Long: `Create or migrate the schema of the PostgreSQL store named by store.url in the
configuration (or --url), then exit. 'junction serve' does the same at start-up;
this lets an operator migrate ahead of a rolling upgrade, or with a role
allowed to create tables while the broker's is not. A database whose schema is
newer than this binary knows is refused.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if url == "" {
				cfg, err := config.Load(cfgPath)
				if err != nil {
					return err
				}
				if cfg.Store.Type != "postgres" {
					return fmt.Errorf("store.type is %q: only a postgres store has a schema to migrate", cfg.Store.Type)
				}
				cfg.ApplyDefaults()
				if url, err = cfg.Store.DatabaseURL(); err != nil {
					return err
				}
			}
			if url == "" {
				return fmt.Errorf("no store.url: give --config FILE or --url")
			}
			ctx, cancel := context.WithTimeout(cmd.Context(), 5*time.Minute)
			defer cancel()
			from, to, err := postgres.Migrate(ctx, url)
			if err != nil {
				return err
			}
			if from == to {
				fmt.Fprintf(cmd.OutOrStdout(), "schema already at version %d\n", to)
			} else {
				fmt.Fprintf(cmd.OutOrStdout(), "schema migrated from version %d to %d\n", from, to)
			}
			return nil
		},
	}
	migrate.Flags().StringVar(&cfgPath, "config", "", "YAML configuration `FILE` (store.url)")
	migrate.Flags().StringVar(&url, "url", "", "PostgreSQL `URL`, instead of the configuration's store.url")
	cmd.AddCommand(migrate)
	return cmd
}
