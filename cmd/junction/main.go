// Command junction is the Junction message broker and its client tools.
package main

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/junctionmq/junction/security/usercli"
)

func main() {
	if err := newRootCmd().Execute(); err != nil {
		fmt.Fprintln(os.Stderr, "junction:", err)
		os.Exit(1)
	}
}

func newRootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:   "junction",
		Short: "Junction: a multi-protocol message broker (STOMP, MQTT) with JMS semantics",
		Long: `Junction is a message broker in one binary. STOMP (TCP and WebSocket) and MQTT
clients meet on one set of queues and topics with JMS semantics: selectors,
expiry, redelivery with dead-lettering, priorities, transactions, durable and
shared subscriptions, and access control, stored in an embedded journal.

Start it with 'junction serve'; try it with 'junction send' and 'junction receive'.`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.AddCommand(
		newServeCmd(),
		newSendCmd(),
		newReceiveCmd(),
		newBenchCmd(),
		usercli.NewCommand(nil),
	)
	for _, c := range extraCommands {
		root.AddCommand(c())
	}
	return root
}

// extraCommands lets optional command files register themselves.
var extraCommands []func() *cobra.Command
