package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/junctionmq/junction/management"
)

// The management commands (queue, address, connection) are clients of the
// admin HTTP API (management/, on the admin listener): they work against a
// running broker, local or not, with the manage permission.

func init() {
	extraCommands = append(extraCommands, newQueueCmd, newAddressCmd, newConnectionCmd)
}

// defaultAdminURL is the admin listener's default address.
const defaultAdminURL = "http://127.0.0.1:8161"

// adminFlags are shared by every management command.
type adminFlags struct {
	url, user, password string
	json                bool
	timeout             time.Duration
}

func (f *adminFlags) register(cmd *cobra.Command) {
	fl := cmd.PersistentFlags()
	fl.StringVar(&f.url, "url", envOr("JUNCTION_URL", defaultAdminURL), "admin API `URL` (env JUNCTION_URL)")
	fl.StringVarP(&f.user, "user", "u", os.Getenv("JUNCTION_USER"), "user name with the manage permission (env JUNCTION_USER)")
	fl.StringVarP(&f.password, "password", "p", "", "password (default: env JUNCTION_PASSWORD)")
	fl.BoolVar(&f.json, "json", false, "print the API's JSON instead of a table")
	fl.DurationVar(&f.timeout, "timeout", 30*time.Second, "how long to wait for the broker")
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

// apiClient calls the admin API.
type apiClient struct {
	f    *adminFlags
	http *http.Client
}

func (f *adminFlags) client() *apiClient {
	return &apiClient{f: f, http: &http.Client{Timeout: f.timeout}}
}

// call sends a request and decodes the JSON answer into out; it returns
// the raw answer too, for --json.
func (c *apiClient) call(method, path string, body, out any) ([]byte, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return nil, err
		}
		rd = bytes.NewReader(b)
	}
	base := strings.TrimRight(c.f.url, "/")
	req, err := http.NewRequest(method, base+path, rd)
	if err != nil {
		return nil, fmt.Errorf("--url %q: %w", c.f.url, err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	pw := c.f.password
	if pw == "" {
		pw = os.Getenv("JUNCTION_PASSWORD")
	}
	if c.f.user != "" {
		req.SetBasicAuth(c.f.user, pw)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, fmt.Errorf("reaching the admin API at %s (is the broker running with its admin listener on?): %w", base, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return nil, fmt.Errorf("reading the answer: %w", err)
	}
	if resp.StatusCode >= 300 {
		var e struct {
			Error string `json:"error"`
		}
		if json.Unmarshal(data, &e) != nil || e.Error == "" {
			e.Error = strings.TrimSpace(string(data))
		}
		if resp.StatusCode == http.StatusUnauthorized && c.f.user == "" {
			e.Error += " (give --user and --password, or JUNCTION_USER and JUNCTION_PASSWORD)"
		}
		return nil, fmt.Errorf("%s %s: %s: %s", method, path, http.StatusText(resp.StatusCode), e.Error)
	}
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			return nil, fmt.Errorf("decoding the answer of %s: %w", path, err)
		}
	}
	return data, nil
}

// printJSON writes an API answer indented.
func printJSON(w io.Writer, data []byte) error {
	var buf bytes.Buffer
	if err := json.Indent(&buf, data, "", "  "); err != nil {
		_, err = w.Write(data)
		return err
	}
	buf.WriteByte('\n')
	_, err := w.Write(buf.Bytes())
	return err
}

func table(w io.Writer, header string, rows [][]string) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, header)
	for _, r := range rows {
		fmt.Fprintln(tw, strings.Join(r, "\t"))
	}
	return tw.Flush()
}

// listFlags page, sort and filter a list.
type listFlags struct {
	filter, sort string
	desc         bool
	limit        int
	offset       int
}

func (l *listFlags) register(cmd *cobra.Command, sorts string) {
	fl := cmd.Flags()
	fl.StringVar(&l.filter, "filter", "", "only names containing this text (case-insensitive)")
	fl.StringVar(&l.sort, "sort", "", "sort by `FIELD`: "+sorts)
	fl.BoolVar(&l.desc, "desc", false, "sort in descending order")
	fl.IntVar(&l.limit, "limit", 100, "at most this many rows (1-1000)")
	fl.IntVar(&l.offset, "offset", 0, "skip this many rows")
}

func (l *listFlags) query() string {
	v := url.Values{}
	if l.filter != "" {
		v.Set("filter", l.filter)
	}
	if l.sort != "" {
		v.Set("sort", l.sort)
	}
	if l.desc {
		v.Set("order", "desc")
	}
	v.Set("limit", strconv.Itoa(l.limit))
	v.Set("offset", strconv.Itoa(l.offset))
	return "?" + v.Encode()
}

// more tells how to get the next page when the list was cut.
func (l *listFlags) more(w io.Writer, total, shown int) {
	if l.offset+shown < total {
		fmt.Fprintf(w, "(%d of %d shown; --offset %d for more)\n", shown, total, l.offset+shown)
	}
}

func esc(s string) string { return url.PathEscape(s) }

func newQueueCmd() *cobra.Command {
	f := &adminFlags{}
	cmd := &cobra.Command{Use: "queue", Short: "List, inspect, purge, move and redrive queues (admin API)"}
	f.register(cmd)

	var lf listFlags
	list := &cobra.Command{Use: "list", Short: "List queues with their depth and counters", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var res management.ListResult[management.Queue]
			data, err := f.client().call("GET", "/api/v1/queues"+lf.query(), nil, &res)
			if err != nil {
				return err
			}
			if f.json {
				return printJSON(cmd.OutOrStdout(), data)
			}
			rows := make([][]string, 0, len(res.Items))
			for _, q := range res.Items {
				rows = append(rows, []string{q.Name, q.Address, q.RoutingType, itoa(q.Depth), itoa(q.Consumers), utoa(q.Enqueued),
					utoa(q.Acknowledged), utoa(q.DeadLettered), age(q.OldestAgeMs)})
			}
			if err := table(cmd.OutOrStdout(), "NAME\tADDRESS\tROUTING\tDEPTH\tCONSUMERS\tENQUEUED\tACKED\tDEAD-LETTERED\tOLDEST", rows); err != nil {
				return err
			}
			lf.more(cmd.OutOrStdout(), res.Total, len(res.Items))
			return nil
		}}
	lf.register(list, "name, address, depth, consumers, enqueued, delivered, acknowledged, expired, dead_lettered, in_flight, oldest_age, enqueue_rate, ack_rate")

	stat := &cobra.Command{Use: "stat QUEUE", Short: "Show one queue's counters and consumers", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var q management.Queue
			data, err := f.client().call("GET", "/api/v1/queues/"+esc(args[0]), nil, &q)
			if err != nil {
				return err
			}
			if f.json {
				return printJSON(cmd.OutOrStdout(), data)
			}
			rows := [][]string{
				{"address", q.Address}, {"routing", q.RoutingType}, {"durable", strconv.FormatBool(q.Durable)},
				{"depth", itoa(q.Depth)}, {"ready", itoa(q.Ready)}, {"scheduled", itoa(q.Scheduled)}, {"in flight", itoa(q.InFlight)},
				{"consumers", itoa(q.Consumers)}, {"enqueued", utoa(q.Enqueued)}, {"delivered", utoa(q.Delivered)},
				{"acknowledged", utoa(q.Acknowledged)}, {"expired", utoa(q.Expired)}, {"dead-lettered", utoa(q.DeadLettered)},
				{"dropped", utoa(q.Dropped)}, {"oldest message", age(q.OldestAgeMs)},
				{"enqueue rate", fmt.Sprintf("%.1f/s", q.EnqueueRate)}, {"ack rate", fmt.Sprintf("%.1f/s", q.AckRate)},
			}
			if q.Filter != "" {
				rows = append(rows, []string{"filter", q.Filter})
			}
			if q.ClientID != "" || q.Subscription != "" {
				rows = append(rows, []string{"subscription", q.ClientID + ":" + q.Subscription})
			}
			w := cmd.OutOrStdout()
			if err := table(w, "QUEUE\t"+q.Name, rows); err != nil {
				return err
			}
			if len(q.ConsumerList) > 0 {
				fmt.Fprintln(w)
				var cr [][]string
				for _, c := range q.ConsumerList {
					cr = append(cr, []string{utoa(c.ID), utoa(c.SessionID), c.ClientID, c.User, c.Selector, itoa(c.InFlight)})
				}
				return table(w, "CONSUMER\tCONNECTION\tCLIENT-ID\tUSER\tSELECTOR\tIN-FLIGHT", cr)
			}
			return nil
		}}

	purge := &cobra.Command{Use: "purge QUEUE", Short: "Remove every ready and scheduled message of a queue", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var res map[string]int
			data, err := f.client().call("POST", "/api/v1/queues/"+esc(args[0])+"/purge", nil, &res)
			if err != nil {
				return err
			}
			if f.json {
				return printJSON(cmd.OutOrStdout(), data)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "purged %d message(s) from %s\n", res["removed"], args[0])
			return nil
		}}

	var tr management.TransferRequest
	move := &cobra.Command{Use: "move QUEUE --to QUEUE", Short: "Move ready messages to another queue", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if tr.To == "" {
				return errors.New("--to QUEUE is required")
			}
			var res map[string]int
			data, err := f.client().call("POST", "/api/v1/queues/"+esc(args[0])+"/move", tr, &res)
			if err != nil {
				return err
			}
			if f.json {
				return printJSON(cmd.OutOrStdout(), data)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "moved %d message(s) from %s to %s\n", res["moved"], args[0], tr.To)
			return nil
		}}
	move.Flags().StringVar(&tr.To, "to", "", "the target `QUEUE` (anycast)")
	transferFlags(move, &tr)

	var rr management.TransferRequest
	redrive := &cobra.Command{Use: "redrive QUEUE", Short: "Send dead-lettered messages back to their original address",
		Long: `Send each message of a dead-letter (or expiry) queue back to the address it was
first sent to, as recorded in its _AMQ_ORIG_ADDRESS property, without the
dead-letter properties. Messages without that property stay.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var res map[string]int
			data, err := f.client().call("POST", "/api/v1/queues/"+esc(args[0])+"/redrive", rr, &res)
			if err != nil {
				return err
			}
			if f.json {
				return printJSON(cmd.OutOrStdout(), data)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "redrove %d message(s) from %s", res["redriven"], args[0])
			if res["skipped"] > 0 {
				fmt.Fprintf(cmd.OutOrStdout(), "; %d without an original address stayed", res["skipped"])
			}
			fmt.Fprintln(cmd.OutOrStdout())
			return nil
		}}
	transferFlags(redrive, &rr)

	var cq management.CreateQueueRequest
	create := &cobra.Command{Use: "create QUEUE", Short: "Create a durable queue", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cq.Name = args[0]
			data, err := f.client().call("POST", "/api/v1/queues", cq, nil)
			if err != nil {
				return err
			}
			if f.json {
				return printJSON(cmd.OutOrStdout(), data)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "created queue %s\n", args[0])
			return nil
		}}
	create.Flags().StringVar(&cq.Address, "address", "", "the address a multicast queue subscribes to (anycast: the queue's name)")
	create.Flags().StringVar(&cq.RoutingType, "routing", "anycast", "anycast (a queue) or multicast (a durable subscription of --address)")
	create.Flags().StringVar(&cq.Filter, "filter", "", "a JMS `SELECTOR` messages must match to enter the queue")

	del := &cobra.Command{Use: "delete QUEUE", Short: "Delete a queue with its messages", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			data, err := f.client().call("DELETE", "/api/v1/queues/"+esc(args[0]), nil, nil)
			if err != nil {
				return err
			}
			if f.json {
				return printJSON(cmd.OutOrStdout(), data)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "deleted queue %s\n", args[0])
			return nil
		}}

	cmd.AddCommand(list, stat, purge, move, redrive, create, del)
	return cmd
}

func transferFlags(cmd *cobra.Command, tr *management.TransferRequest) {
	cmd.Flags().IntVar(&tr.Limit, "limit", 0, "at most this many messages (0: every ready message)")
	cmd.Flags().StringVar(&tr.Selector, "selector", "", "only messages matching this JMS `SELECTOR`")
}

func newAddressCmd() *cobra.Command {
	f := &adminFlags{}
	cmd := &cobra.Command{Use: "address", Short: "List, create and delete addresses (admin API)"}
	f.register(cmd)

	var lf listFlags
	list := &cobra.Command{Use: "list", Short: "List addresses", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var res management.ListResult[management.Address]
			data, err := f.client().call("GET", "/api/v1/addresses"+lf.query(), nil, &res)
			if err != nil {
				return err
			}
			if f.json {
				return printJSON(cmd.OutOrStdout(), data)
			}
			var rows [][]string
			for _, a := range res.Items {
				rows = append(rows, []string{a.Name, strings.Join(a.RoutingTypes, ","), itoa(a.Queues), strconv.FormatInt(a.SizeBytes, 10),
					strconv.FormatBool(a.AutoCreated)})
			}
			if err := table(cmd.OutOrStdout(), "NAME\tROUTING\tQUEUES\tBYTES\tAUTO-CREATED", rows); err != nil {
				return err
			}
			lf.more(cmd.OutOrStdout(), res.Total, len(res.Items))
			return nil
		}}
	lf.register(list, "name, queues, size")

	var routing string
	create := &cobra.Command{Use: "create ADDRESS", Short: "Create an address", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			data, err := f.client().call("POST", "/api/v1/addresses", management.CreateAddressRequest{Name: args[0], RoutingType: routing}, nil)
			if err != nil {
				return err
			}
			if f.json {
				return printJSON(cmd.OutOrStdout(), data)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "created address %s (%s)\n", args[0], routing)
			return nil
		}}
	create.Flags().StringVar(&routing, "routing", "anycast", "anycast (queue) or multicast (topic)")

	var force bool
	del := &cobra.Command{Use: "delete ADDRESS", Short: "Delete an address", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			path := "/api/v1/addresses/" + esc(args[0])
			if force {
				path += "?force=true"
			}
			data, err := f.client().call("DELETE", path, nil, nil)
			if err != nil {
				return err
			}
			if f.json {
				return printJSON(cmd.OutOrStdout(), data)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "deleted address %s\n", args[0])
			return nil
		}}
	del.Flags().BoolVar(&force, "force", false, "delete its queues and their messages too")

	cmd.AddCommand(list, create, del)
	return cmd
}

func newConnectionCmd() *cobra.Command {
	f := &adminFlags{}
	cmd := &cobra.Command{Use: "connection", Short: "List and close client connections (admin API)"}
	f.register(cmd)

	var lf listFlags
	list := &cobra.Command{Use: "list", Short: "List client connections", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var res management.ListResult[management.Connection]
			data, err := f.client().call("GET", "/api/v1/connections"+lf.query(), nil, &res)
			if err != nil {
				return err
			}
			if f.json {
				return printJSON(cmd.OutOrStdout(), data)
			}
			var rows [][]string
			for _, c := range res.Items {
				rows = append(rows, []string{utoa(c.ID), c.Protocol, c.ClientID, c.User, c.RemoteAddress,
					c.Since.Local().Format(time.DateTime), itoa(c.Consumers), utoa(c.MessagesIn), utoa(c.MessagesOut)})
			}
			if err := table(cmd.OutOrStdout(), "ID\tPROTOCOL\tCLIENT-ID\tUSER\tREMOTE\tSINCE\tCONSUMERS\tIN\tOUT", rows); err != nil {
				return err
			}
			lf.more(cmd.OutOrStdout(), res.Total, len(res.Items))
			return nil
		}}
	lf.register(list, "id, protocol, client_id, user, remote_address, since, in_rate, out_rate")

	closeCmd := &cobra.Command{Use: "close ID", Short: "Close a client connection", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			data, err := f.client().call("DELETE", "/api/v1/connections/"+esc(args[0]), nil, nil)
			if err != nil {
				return err
			}
			if f.json {
				return printJSON(cmd.OutOrStdout(), data)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "closed connection %s\n", args[0])
			return nil
		}}

	cmd.AddCommand(list, closeCmd)
	return cmd
}

func itoa(i int) string    { return strconv.Itoa(i) }
func utoa(u uint64) string { return strconv.FormatUint(u, 10) }
func age(ms int64) string {
	if ms <= 0 {
		return "-"
	}
	return (time.Duration(ms) * time.Millisecond).Round(time.Second / 10).String()
}
