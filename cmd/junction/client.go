package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"os/signal"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/go-stomp/stomp/v3"
	"github.com/go-stomp/stomp/v3/frame"
	"github.com/spf13/cobra"
)

// clientFlags are shared by send and receive.
type clientFlags struct {
	url      string
	user     string
	password string
	clientID string
}

func (f *clientFlags) register(cmd *cobra.Command) {
	fl := cmd.Flags()
	fl.StringVar(&f.url, "url", "stomp://127.0.0.1:61613", "broker `URL`: stomp://host:port, mqtt://host:port or amqp://host:port")
	fl.StringVarP(&f.user, "user", "u", "", "user name")
	fl.StringVarP(&f.password, "password", "p", "", "password")
}

// registerClientID adds --client-id, which only commands that subscribe
// (receive, bench) have a use for: send has none.
func (f *clientFlags) registerClientID(cmd *cobra.Command, usage string) {
	cmd.Flags().StringVar(&f.clientID, "client-id", "", usage)
}

// target splits the URL into protocol and host:port.
func (f *clientFlags) target() (scheme, addr string, err error) {
	u, err := url.Parse(f.url)
	if err != nil || u.Host == "" {
		return "", "", fmt.Errorf("invalid --url %q: want stomp://host:port, mqtt://host:port or amqp://host:port", f.url)
	}
	switch u.Scheme {
	case "stomp", "tcp":
		return "stomp", u.Host, nil
	case "mqtt":
		return "mqtt", u.Host, nil
	case "amqp":
		return "amqp", u.Host, nil
	}
	return "", "", fmt.Errorf("unsupported scheme %q in --url: want stomp, mqtt or amqp", u.Scheme)
}

func (f *clientFlags) dialSTOMP(addr string) (*stomp.Conn, error) {
	opts := []func(*stomp.Conn) error{stomp.ConnOpt.HeartBeat(0, 0)}
	if f.user != "" || f.password != "" {
		opts = append(opts, stomp.ConnOpt.Login(f.user, f.password))
	}
	if f.clientID != "" {
		opts = append(opts, stomp.ConnOpt.Header("client-id", f.clientID))
	}
	c, err := stomp.Dial("tcp", addr, opts...)
	if err != nil {
		return nil, fmt.Errorf("connecting to %s: %w", addr, err)
	}
	return c, nil
}

type sendFlags struct {
	clientFlags
	headers     []string
	persistent  bool
	contentType string
	priority    int
	ttl         time.Duration
	qos         int
	retain      bool
	count       int
}

func newSendCmd() *cobra.Command {
	var f sendFlags
	cmd := &cobra.Command{
		Use:   "send DESTINATION [MESSAGE...]",
		Short: "Send messages (the arguments as one message, or each line of standard input)",
		Long: `Send messages to a destination. Over STOMP the destination is /queue/NAME or
/topic/NAME; over MQTT (--url mqtt://host:port) it is a topic such as
sensors/7/temp; over AMQP (--url amqp://host:port) an address such as orders,
queue://orders or topic://news (/queue/x and /topic/x work too). The message is the remaining arguments joined by spaces; with
none, every line of standard input is sent as one message.`,
		Example: `  junction send /queue/orders 'hello'
  seq 1 10 | junction send /topic/news
  junction send --url mqtt://127.0.0.1:1883 --qos 1 sensors/7/temp 21.5
  junction send --url amqp://127.0.0.1:5672 -H color=red orders 'hello'`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error { return runSend(cmd, f, args) },
	}
	f.register(cmd)
	fl := cmd.Flags()
	fl.StringArrayVarP(&f.headers, "header", "H", nil, "header or property `KEY=VALUE` (repeatable)")
	fl.BoolVar(&f.persistent, "persistent", true, "send persistent messages, each confirmed by the broker")
	fl.StringVar(&f.contentType, "content-type", "text/plain", "content type")
	fl.IntVar(&f.priority, "priority", 4, "priority 0-9")
	fl.DurationVar(&f.ttl, "ttl", 0, "time to live (0 = never expires)")
	fl.IntVar(&f.qos, "qos", 1, "MQTT QoS 0, 1 or 2")
	fl.BoolVar(&f.retain, "retain", false, "MQTT retained message")
	fl.IntVar(&f.count, "count", 1, "send the message this many times")
	return cmd
}

func runSend(cmd *cobra.Command, f sendFlags, args []string) error {
	scheme, addr, err := f.target()
	if err != nil {
		return err
	}
	dest := args[0]
	var bodies <-chan string
	if len(args) > 1 {
		ch := make(chan string, 1)
		ch <- strings.Join(args[1:], " ")
		close(ch)
		bodies = ch
	} else {
		bodies = readLines(cmd.InOrStdin())
	}
	switch scheme {
	case "mqtt":
		return mqttSend(cmd, f, addr, dest, bodies)
	case "amqp":
		return amqpSend(cmd, f, addr, dest, bodies)
	}
	conn, err := f.dialSTOMP(addr)
	if err != nil {
		return err
	}
	defer conn.Disconnect()
	var opts []func(*frame.Frame) error
	for _, h := range f.headers {
		k, v, ok := strings.Cut(h, "=")
		if !ok || k == "" {
			return fmt.Errorf("invalid --header %q: want KEY=VALUE", h)
		}
		opts = append(opts, stomp.SendOpt.Header(k, v))
	}
	if f.priority != 4 {
		opts = append(opts, stomp.SendOpt.Header("priority", strconv.Itoa(f.priority)))
	}
	if f.ttl > 0 {
		opts = append(opts, stomp.SendOpt.Header("expires", strconv.FormatInt(time.Now().Add(f.ttl).UnixMilli(), 10)))
	}
	if f.persistent {
		opts = append(opts, stomp.SendOpt.Header("persistent", "true"), stomp.SendOpt.Receipt)
	}
	n := 0
	for body := range bodies {
		for i := 0; i < f.count; i++ {
			if err := conn.Send(dest, f.contentType, []byte(body), opts...); err != nil {
				return fmt.Errorf("send: %w", err)
			}
			n++
		}
	}
	fmt.Fprintf(cmd.ErrOrStderr(), "sent %d message(s) to %s\n", n, dest)
	return nil
}

func readLines(r io.Reader) <-chan string {
	ch := make(chan string)
	go func() {
		defer close(ch)
		sc := bufio.NewScanner(r)
		sc.Buffer(make([]byte, 64*1024), 16<<20)
		for sc.Scan() {
			ch <- sc.Text()
		}
	}()
	return ch
}

type receiveFlags struct {
	clientFlags
	count    int
	timeout  time.Duration
	selector string
	ack      string
	durable  string
	headers  bool
	qos      int
}

func newReceiveCmd() *cobra.Command {
	var f receiveFlags
	cmd := &cobra.Command{
		Use:   "receive DESTINATION",
		Short: "Receive messages and print them, one per line",
		Long: `Receive messages from a destination (/queue/NAME or /topic/NAME over STOMP; a
topic filter such as sensors/+/temp over MQTT; an address such as orders or
topic://news over AMQP) and print each body on a line.`,
		Example: `  junction receive /queue/orders
  junction receive --count 1 --selector "weight > 10" /queue/parcels
  junction receive --client-id app1 --durable news-sub /topic/news
  junction receive --url mqtt://127.0.0.1:1883 'sensors/+/temp'
  junction receive --url amqp://127.0.0.1:5672 --selector "color = 'red'" orders`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error { return runReceive(cmd, f, args[0]) },
	}
	f.register(cmd)
	f.registerClientID(cmd, "client id (needed for durable subscriptions)")
	fl := cmd.Flags()
	fl.IntVarP(&f.count, "count", "n", 0, "stop after this many messages (0 = until interrupted)")
	fl.DurationVar(&f.timeout, "timeout", 0, "stop when no message arrives for this long (0 = wait forever)")
	fl.StringVar(&f.selector, "selector", "", "JMS selector, e.g. \"color = 'red' AND weight > 10\"")
	fl.StringVar(&f.ack, "ack", "client-individual", "ack mode: auto or client-individual (ack after printing)")
	fl.StringVar(&f.durable, "durable", "", "durable subscription `NAME` (topics; needs --client-id)")
	fl.BoolVar(&f.headers, "headers", false, "print each message's headers before its body")
	fl.IntVar(&f.qos, "qos", 1, "MQTT subscription QoS 0, 1 or 2")
	return cmd
}

func runReceive(cmd *cobra.Command, f receiveFlags, dest string) error {
	scheme, addr, err := f.target()
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt)
	defer stop()
	switch scheme {
	case "mqtt":
		return mqttReceive(ctx, cmd, f, addr, dest)
	case "amqp":
		return amqpReceive(ctx, cmd, f, addr, dest)
	}
	conn, err := f.dialSTOMP(addr)
	if err != nil {
		return err
	}
	defer conn.Disconnect()
	mode := stomp.AckClientIndividual
	switch f.ack {
	case "auto":
		mode = stomp.AckAuto
	case "client-individual":
	default:
		return fmt.Errorf("invalid --ack %q: want auto or client-individual", f.ack)
	}
	var opts []func(*frame.Frame) error
	if f.selector != "" {
		opts = append(opts, stomp.SubscribeOpt.Header("selector", f.selector))
	}
	if f.durable != "" {
		opts = append(opts, stomp.SubscribeOpt.Header("durable-subscription-name", f.durable))
	}
	sub, err := conn.Subscribe(dest, mode, opts...)
	if err != nil {
		return fmt.Errorf("subscribe: %w", err)
	}
	// End the subscription before the deferred DISCONNECT: closing the
	// connection under a live subscription makes go-stomp report an error.
	defer func() { _ = sub.Unsubscribe() }()
	out := bufio.NewWriter(cmd.OutOrStdout())
	defer out.Flush()
	n := 0
	for f.count == 0 || n < f.count {
		var idle <-chan time.Time
		if f.timeout > 0 {
			idle = time.After(f.timeout)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-idle:
			return nil
		case msg, ok := <-sub.C:
			if !ok {
				return errors.New("subscription closed by the broker")
			}
			if msg.Err != nil {
				return fmt.Errorf("receive: %w", msg.Err)
			}
			if f.headers {
				printHeaders(out, msg.Header)
			}
			out.Write(msg.Body)
			out.WriteByte('\n')
			out.Flush()
			if mode != stomp.AckAuto {
				if err := conn.Ack(msg); err != nil {
					return fmt.Errorf("ack: %w", err)
				}
			}
			n++
		}
	}
	return nil
}

func printHeaders(w io.Writer, h *frame.Header) {
	keys := make([]string, 0, h.Len())
	vals := map[string]string{}
	for i := 0; i < h.Len(); i++ {
		k, v := h.GetAt(i)
		keys = append(keys, k)
		vals[k] = v
	}
	sort.Strings(keys)
	for _, k := range keys {
		fmt.Fprintf(w, "%s: %s\n", k, vals[k])
	}
}
