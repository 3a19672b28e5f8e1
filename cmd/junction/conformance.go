package main

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/junctionmq/junction/conformance"
)

func init() { extraCommands = append(extraCommands, newConformanceCmd) }

func newConformanceCmd() *cobra.Command {
	var o conformance.Options
	var asJSON bool
	var only string
	cmd := &cobra.Command{
		Use:   "conformance",
		Short: "Check any broker over the network with real clients and print a protocol × feature matrix",
		Long: `Runs STOMP, MQTT 3.1.1/5.0, AMQP 1.0 and OpenWire checks against a broker with
real third-party clients (go-stomp, paho, go-amqp, the ActiveMQ JMS client), and
interoperability checks between the protocols, and prints PASS, FAIL or SKIP for
each with the reason. A protocol without an address is skipped. It knows the
broker only from the outside, so it runs against Junction, ActiveMQ, RabbitMQ or
Mosquitto alike. The exit status is 0 only when nothing failed.`,
		Example: `  junction conformance --stomp 127.0.0.1:61613 --mqtt 127.0.0.1:1883 --amqp 127.0.0.1:5672 --openwire 127.0.0.1:61616
  junction conformance --mqtt 127.0.0.1:1885 --json            # Mosquitto from ../shared/anchors
  junction conformance --stomp 127.0.0.1:61613 --only stomp/   # one protocol`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if o.STOMP == "" && o.MQTT == "" && o.AMQP == "" && o.OpenWire == "" {
				return fmt.Errorf("give at least one of --stomp, --mqtt, --amqp, --openwire")
			}
			if only != "" {
				o.Only = strings.Split(only, ",")
			}
			rep := conformance.Run(cmd.Context(), o)
			var err error
			if asJSON {
				err = rep.WriteJSON(cmd.OutOrStdout())
			} else {
				err = rep.WriteText(cmd.OutOrStdout())
			}
			if err != nil {
				return err
			}
			if !rep.OK() {
				cmd.SilenceErrors = true
				os.Exit(1)
			}
			return nil
		},
	}
	cmd.AddCommand(&cobra.Command{
		Use:   "table REPORT.json...",
		Short: "Print several brokers' JSON reports side by side as one Markdown table",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, files []string) error {
			var reps []*conformance.Report
			for _, f := range files {
				b, err := os.ReadFile(f)
				if err != nil {
					return err
				}
				var r conformance.Report
				if err := json.Unmarshal(b, &r); err != nil {
					return fmt.Errorf("%s: %w", f, err)
				}
				reps = append(reps, &r)
			}
			return conformance.WriteMarkdownMatrix(cmd.OutOrStdout(), reps)
		},
	})
	f := cmd.Flags()
	f.StringVar(&o.STOMP, "stomp", "", "the broker's STOMP address, host:port")
	f.StringVar(&o.MQTT, "mqtt", "", "the broker's MQTT address, host:port")
	f.StringVar(&o.AMQP, "amqp", "", "the broker's AMQP 1.0 address, host:port")
	f.StringVar(&o.OpenWire, "openwire", "", "the broker's OpenWire address, host:port")
	f.StringVar(&o.User, "user", "", "log in as this user on every protocol (default: anonymous)")
	f.StringVar(&o.Password, "password", "", "the user's password")
	f.StringVar(&o.Profile, "profile", "", "the broker's address conventions: junction, activemq, rabbitmq, mosquitto (default: detected)")
	f.DurationVar(&o.Timeout, "timeout", 10*time.Second, "time limit of each check")
	f.StringVar(&only, "only", "", "run only the checks whose protocol/feature name contains one of these (comma-separated)")
	f.IntVar(&o.Parallel, "parallel", 4, "checks run at once")
	f.BoolVar(&asJSON, "json", false, "print the report as JSON")
	return cmd
}
