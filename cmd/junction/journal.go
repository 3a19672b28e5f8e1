package main

import (
	"github.com/spf13/cobra"

	"github.com/junctionmq/junction/storage/journal"
)

func init() { extraCommands = append(extraCommands, newJournalCmd) }

func newJournalCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "journal",
		Short: "Look into the journal without starting the broker",
	}
	var data string
	inspect := &cobra.Command{
		Use:   "inspect",
		Short: "Print the journal's segments, record counts and live ratio",
		Long: `Print each segment of the journal in --data: its sequence, its records by type,
the bytes used and the fraction still live. It only reads, and works while no
broker runs on the folder.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			r, err := journal.Inspect(data)
			if err != nil {
				return err
			}
			return r.WriteText(cmd.OutOrStdout())
		},
	}
	inspect.Flags().StringVar(&data, "data", "data", "journal folder `DIR`")
	cmd.AddCommand(inspect)
	return cmd
}
