// Command junction is the Junction message broker and its client tools.
package main

import (
	"fmt"
	"os"
	"strings"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/junctionmq/junction/security/usercli"
)

func main() {
	if len(os.Args) > 1 && os.Args[1] == "serve" {
		smallStacks()
	}
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

// smallStacks restarts the broker process with the runtime's adaptive initial
// goroutine stacks turned off. The broker hands each idle connection to a
// fresh goroutine (see protocols/stomp and protocols/mqtt); with adaptive
// stacks, fresh goroutines start at the average size of busy ones (4 KiB or
// more), which doubles the memory of every idle connection. The setting is
// read only at process start, hence the exec; if it fails the broker just
// runs with the default.
func smallStacks() {
	const setting = "adaptivestackstart=0"
	env := os.Getenv("GODEBUG")
	if strings.Contains(env, "adaptivestackstart") {
		return
	}
	exe, err := os.Executable()
	if err != nil {
		return
	}
	if env != "" {
		env += ","
	}
	_ = os.Setenv("GODEBUG", env+setting)
	_ = syscall.Exec(exe, os.Args, os.Environ())
	// Still here: exec failed; run as we are.
}
