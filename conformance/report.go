package conformance

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
)

// WriteText prints the report as a matrix: one block per protocol with a
// line per feature, then the interoperability grid of sender × receiver,
// then the totals.
func (r *Report) WriteText(w io.Writer) error {
	rs := append([]Result(nil), r.Results...)
	sortResults(rs)
	fmt.Fprintf(w, "broker: %s (profile %s)\n", r.Broker, r.Profile)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	last := ""
	for _, x := range rs {
		if x.Sender != "" {
			continue
		}
		if x.Protocol != last {
			fmt.Fprintf(tw, "\n%s\t\t\n", strings.ToUpper(x.Protocol))
			last = x.Protocol
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\n", x.Feature, x.Status, x.Reason)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	// The interop grid: rows send, columns receive.
	var protos []string
	cell := map[[2]string]Result{}
	for _, x := range rs {
		if x.Sender == "" {
			continue
		}
		cell[[2]string{x.Sender, x.Receiver}] = x
		for _, p := range []string{x.Sender, x.Receiver} {
			if !contains(protos, p) {
				protos = append(protos, p)
			}
		}
	}
	if len(cell) > 0 {
		fmt.Fprintf(w, "\nINTEROP (row sends, column receives)\n")
		tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprintf(tw, "  \t%s\t\n", strings.Join(protos, "\t"))
		for _, s := range protos {
			row := []string{s}
			for _, rcv := range protos {
				if x, ok := cell[[2]string{s, rcv}]; ok {
					row = append(row, string(x.Status))
				} else {
					row = append(row, "-")
				}
			}
			fmt.Fprintf(tw, "  %s\t\n", strings.Join(row, "\t"))
		}
		if err := tw.Flush(); err != nil {
			return err
		}
		for _, x := range rs {
			if x.Sender != "" && x.Status != Pass {
				fmt.Fprintf(w, "  %s -> %s: %s %s\n", x.Sender, x.Receiver, x.Status, x.Reason)
			}
		}
	}
	_, err := fmt.Fprintf(w, "\n%d passed, %d failed, %d skipped\n", r.Passed, r.Failed, r.Skipped)
	return err
}

// WriteJSON writes the report as one JSON document.
func (r *Report) WriteJSON(w io.Writer) error {
	rs := append([]Result(nil), r.Results...)
	sortResults(rs)
	out := *r
	out.Results = rs
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}

func contains(xs []string, x string) bool {
	for _, y := range xs {
		if y == x {
			return true
		}
	}
	return false
}

// WriteMarkdownMatrix writes one table of several brokers' reports side
// by side: a row per protocol and feature (interop rows as "interop:
// sender → receiver"), a column per broker, each cell PASS, FAIL or SKIP,
// and the reasons of every FAIL and SKIP below it.
func WriteMarkdownMatrix(w io.Writer, reps []*Report) error {
	type key struct{ proto, feature string }
	var rows []key
	seen := map[key]bool{}
	cells := make([]map[key]Result, len(reps))
	for i, r := range reps {
		rs := append([]Result(nil), r.Results...)
		sortResults(rs)
		cells[i] = map[key]Result{}
		for _, x := range rs {
			k := key{x.Protocol, x.Feature}
			if x.Sender != "" {
				k = key{"interop", x.Sender + " → " + x.Receiver}
			}
			cells[i][k] = x
			if !seen[k] {
				seen[k] = true
				rows = append(rows, k)
			}
		}
	}
	head := "| protocol | feature |"
	sep := "|---|---|"
	for _, r := range reps {
		head += " " + r.Broker + " |"
		sep += "---|"
	}
	if _, err := fmt.Fprintln(w, head+"\n"+sep); err != nil {
		return err
	}
	for _, k := range rows {
		line := "| " + k.proto + " | " + k.feature + " |"
		for i := range reps {
			if x, ok := cells[i][k]; ok {
				line += " " + string(x.Status) + " |"
			} else {
				line += " – |"
			}
		}
		fmt.Fprintln(w, line)
	}
	fmt.Fprintln(w)
	for i, r := range reps {
		fmt.Fprintf(w, "**%s**: %d passed, %d failed, %d skipped.", r.Broker, r.Passed, r.Failed, r.Skipped)
		var notes []string
		for _, k := range rows {
			x, ok := cells[i][k]
			if !ok || x.Status == Pass || strings.HasPrefix(x.Reason, "no --") {
				continue
			}
			notes = append(notes, fmt.Sprintf("%s %s: %s %s", k.proto, k.feature, x.Status, x.Reason))
		}
		if len(notes) > 0 {
			fmt.Fprintf(w, " Not passed (beyond protocols not given):\n")
			for _, n := range notes {
				fmt.Fprintf(w, "- %s\n", n)
			}
		}
		fmt.Fprintln(w)
	}
	return nil
}
