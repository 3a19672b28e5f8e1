// Package conformance checks a running broker over the network with real
// third-party clients — go-stomp for STOMP, paho for MQTT 3.1.1 and 5.0,
// go-amqp for AMQP 1.0, the ActiveMQ JMS client for OpenWire — and reports
// a matrix of protocol × feature, and of sender × receiver protocol for
// interoperability, each PASS, FAIL or SKIP with the reason.
//
// It knows brokers only from the outside: it is run unchanged against
// Junction, ActiveMQ Classic, RabbitMQ and Mosquitto. A feature the broker
// refuses outright (an MQTT 5 CONNECT refused as an unsupported version, an
// AMQP attach refused as not implemented) is SKIP: the broker lacks it and
// says so. A feature the broker accepts and then gets wrong (a selector
// ignored, a message lost) is FAIL. A protocol with no address given is
// SKIP throughout.
package conformance

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"
)

// Options say where the broker is and how to log in.
type Options struct {
	// Addresses as host:port; an empty one skips that protocol.
	STOMP, MQTT, AMQP, OpenWire string
	// User and Password log in on every protocol (empty: anonymous).
	User, Password string
	// Profile names the broker's address conventions (junction, activemq,
	// rabbitmq, mosquitto); empty: detected from the STOMP server header
	// or the AMQP container, else junction's.
	Profile string
	// Timeout bounds each check (default 10 s).
	Timeout time.Duration
	// Only, when not empty, runs the checks whose "protocol/feature" name
	// contains one of these strings.
	Only []string
	// Java and ActiveMQClasspath run the OpenWire checks with the ActiveMQ
	// JMS client (defaults: java on PATH, Debian's libactivemq-java jars).
	Java, ActiveMQClasspath string
	// Parallel is how many checks run at once (default 4).
	Parallel int
}

// Status is a check's outcome.
type Status string

const (
	Pass Status = "PASS"
	Fail Status = "FAIL"
	Skip Status = "SKIP"
)

// Result is one check's outcome. Interop checks name a sender and a
// receiver protocol; the others a protocol.
type Result struct {
	Protocol string `json:"protocol"`
	Feature  string `json:"feature"`
	Sender   string `json:"sender,omitempty"`
	Receiver string `json:"receiver,omitempty"`
	Status   Status `json:"status"`
	Reason   string `json:"reason,omitempty"`
	Millis   int64  `json:"ms"`
}

// Report is a whole run.
type Report struct {
	Broker  string    `json:"broker"`
	Profile string    `json:"profile"`
	Started time.Time `json:"started"`
	Results []Result  `json:"results"`
	Passed  int       `json:"passed"`
	Failed  int       `json:"failed"`
	Skipped int       `json:"skipped"`
}

// OK reports whether nothing failed.
func (r *Report) OK() bool { return r.Failed == 0 }

// check is one feature of one protocol.
type check struct {
	protocol, feature string
	sender, receiver  string // interop checks
	run               func(ctx context.Context, e *env) error
}

func (c check) name() string {
	if c.sender != "" {
		return "interop/" + c.sender + "->" + c.receiver
	}
	return c.protocol + "/" + c.feature
}

// skipError marks a check the broker cannot take part in.
type skipError struct{ reason string }

func (s *skipError) Error() string { return s.reason }

func skipf(format string, args ...any) error { return &skipError{fmt.Sprintf(format, args...)} }

// env is what every check of one run shares.
type env struct {
	Options
	prof   profile
	run    string // a random word: names of this run never meet an earlier run's
	mu     sync.Mutex
	serial int
	// Lazily probed capabilities, shared between checks.
	mqtt5Once sync.Once
	mqtt5Err  error
}

// name returns a fresh dotted address name for one check.
func (e *env) name(feature string) string {
	e.mu.Lock()
	e.serial++
	n := e.serial
	e.mu.Unlock()
	f := strings.NewReplacer("/", "", "-", "", " ", "", ".", "").Replace(feature)
	return fmt.Sprintf("conformance.%s.%s%d", e.run, f, n)
}

var registry []check

func register(cs ...check) { registry = append(registry, cs...) }

// Run runs every check against the broker and returns the report.
func Run(ctx context.Context, o Options) *Report {
	if o.Timeout <= 0 {
		o.Timeout = 10 * time.Second
	}
	if o.Parallel <= 0 {
		o.Parallel = 4
	}
	var word [4]byte
	_, _ = rand.Read(word[:])
	e := &env{Options: o, run: hex.EncodeToString(word[:])}
	broker := detect(ctx, e)
	e.prof = profileFor(o.Profile, broker)
	rep := &Report{Broker: broker, Profile: e.prof.name, Started: time.Now().UTC()}

	var todo []check
	for _, c := range registry {
		if len(o.Only) > 0 && !matchesAny(c.name(), o.Only) {
			continue
		}
		todo = append(todo, c)
	}
	results := make([]Result, len(todo))
	sem := make(chan struct{}, o.Parallel)
	var wg sync.WaitGroup
	for i, c := range todo {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			results[i] = runOne(ctx, e, c)
		}()
	}
	wg.Wait()
	rep.Results = results
	for _, r := range results {
		switch r.Status {
		case Pass:
			rep.Passed++
		case Fail:
			rep.Failed++
		default:
			rep.Skipped++
		}
	}
	return rep
}

func matchesAny(name string, subs []string) bool {
	for _, s := range subs {
		if strings.Contains(name, s) {
			return true
		}
	}
	return false
}

func runOne(ctx context.Context, e *env, c check) (res Result) {
	res = Result{Protocol: c.protocol, Feature: c.feature, Sender: c.sender, Receiver: c.receiver}
	for _, p := range []string{c.protocol, c.sender, c.receiver} {
		if p != "" && p != "interop" && e.addr(p) == "" {
			res.Status, res.Reason = Skip, "no --"+p+" address given"
			return res
		}
	}
	start := time.Now()
	limit := e.Timeout
	if (c.protocol == "openwire" || c.sender == "openwire" || c.receiver == "openwire") && limit < 30*time.Second {
		// A JVM per check: its start-up is not the broker's time.
		limit = 30 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	err := func() (err error) {
		defer func() {
			if p := recover(); p != nil {
				err = fmt.Errorf("client panicked: %v", p)
			}
		}()
		return c.run(ctx, e)
	}()
	res.Millis = time.Since(start).Milliseconds()
	var s *skipError
	switch {
	case err == nil:
		res.Status = Pass
	case errors.As(err, &s):
		res.Status, res.Reason = Skip, s.reason
	case ctx.Err() != nil && errors.Is(err, context.DeadlineExceeded):
		res.Status, res.Reason = Fail, fmt.Sprintf("timed out after %v: %v", limit, err)
	default:
		res.Status, res.Reason = Fail, err.Error()
	}
	return res
}

func (e *env) addr(protocol string) string {
	switch protocol {
	case "stomp":
		return e.STOMP
	case "mqtt", "mqtt5":
		return e.MQTT
	case "amqp":
		return e.AMQP
	case "openwire":
		return e.OpenWire
	}
	return ""
}

// Protocols in matrix order.
var protocolOrder = []string{"stomp", "mqtt", "mqtt5", "amqp", "openwire"}

// sortResults orders results by protocol, then feature, interop last.
func sortResults(rs []Result) {
	rank := func(p string) int {
		for i, q := range protocolOrder {
			if p == q {
				return i
			}
		}
		return len(protocolOrder)
	}
	sort.SliceStable(rs, func(i, j int) bool {
		a, b := rs[i], rs[j]
		if (a.Sender != "") != (b.Sender != "") {
			return b.Sender != ""
		}
		if a.Sender != "" {
			if a.Sender != b.Sender {
				return rank(a.Sender) < rank(b.Sender)
			}
			return rank(a.Receiver) < rank(b.Receiver)
		}
		if a.Protocol != b.Protocol {
			return rank(a.Protocol) < rank(b.Protocol)
		}
		return false
	})
}
