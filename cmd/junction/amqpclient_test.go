package main

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/junctionmq/junction/server/servertest"
)

// TestAMQPSendReceive: `junction send` and `receive` over AMQP, with an
// application property, a selector and --headers.
func TestAMQPSendReceive(t *testing.T) {
	s := servertest.Start(t, servertest.Options{})
	url := "amqp://" + s.Addr("amqp")
	for _, color := range []string{"blue", "red"} {
		if out, err := runCmd(t, "send", "--url", url, "-H", "color="+color, "--priority", "6", "orders", "order", color); err != nil {
			t.Fatalf("send: %v\n%s", err, out)
		} else if !strings.Contains(out, "sent 1 message(s) to orders") {
			t.Fatalf("send output %q", out)
		}
	}
	out, err := runCmd(t, "receive", "--url", url, "--count", "1", "--timeout", "5s", "--headers", "--selector", "color = 'red'", "orders")
	if err != nil {
		t.Fatalf("receive: %v\n%s", err, out)
	}
	for _, want := range []string{"color: red\n", "priority: 6\n", "durable: true\n", "content-type: text/plain\n", "order red\n"} {
		if !strings.Contains(out, want) {
			t.Errorf("receive output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "blue") {
		t.Errorf("the selector let blue through:\n%s", out)
	}
	// The blue one is still there, and a timeout ends an empty wait cleanly.
	out, err = runCmd(t, "receive", "--url", url, "--count", "2", "--timeout", "300ms", "queue://orders")
	if err != nil || out != "order blue\n" {
		t.Fatalf("second receive: %q, %v", out, err)
	}
}

// TestAMQPReceiveFromSTOMP: the CLI's STOMP send reaches its AMQP receive
// (the /queue/ form works for AMQP too).
func TestAMQPReceiveFromSTOMP(t *testing.T) {
	s := servertest.Start(t, servertest.Options{})
	if out, err := runCmd(t, "send", "--url", "stomp://"+s.Addr("stomp"), "/queue/mixed", "from", "stomp"); err != nil {
		t.Fatalf("send: %v\n%s", err, out)
	}
	out, err := runCmd(t, "receive", "--url", "amqp://"+s.Addr("amqp"), "--count", "1", "--timeout", "5s", "/queue/mixed")
	if err != nil || out != "from stomp\n" {
		t.Fatalf("receive: %q, %v", out, err)
	}
}

// TestAMQPBench: a short bench over AMQP loses nothing, persistent or not.
func TestAMQPBench(t *testing.T) {
	s := servertest.Start(t, servertest.Options{})
	for _, extra := range [][]string{{"--ack", "auto"}, {"--persistent", "--ack", "client-individual", "topic://bench.t"}} {
		args := append([]string{"bench", "--url", "amqp://" + s.Addr("amqp"), "--producers", "2", "--consumers", "2", "--messages", "200",
			"--json", "--drain-timeout", "5s"}, extra...)
		out, err := runCmd(t, args...)
		if err != nil {
			t.Fatalf("bench %v: %v\n%s", extra, err, out)
		}
		var res benchResult
		if err := json.Unmarshal([]byte(out[strings.Index(out, "{"):]), &res); err != nil {
			t.Fatalf("bench output %q: %v", out, err)
		}
		if res.Protocol != "amqp" || res.Sent != 400 || res.Received != res.Expected || res.Lost != 0 || res.Duplicates != 0 || len(res.Errors) != 0 {
			t.Fatalf("bench %v: %+v", extra, res)
		}
	}
}

func TestAMQPRefusesBadFlags(t *testing.T) {
	if _, err := runCmd(t, "receive", "--url", "amqp://127.0.0.1:1", "--durable", "d", "topic://x"); err == nil || !strings.Contains(err.Error(), "--client-id") {
		t.Errorf("--durable without --client-id: %v", err)
	}
	if _, err := runCmd(t, "send", "--url", "amqp://127.0.0.1:1", "--priority", "12", "q", "x"); err == nil || !strings.Contains(err.Error(), "priority") {
		t.Errorf("--priority 12: %v", err)
	}
}

// TestAMQPDurableSubscription: a durable subscription made by one
// `receive` keeps what is published while no receiver is attached.
func TestAMQPDurableSubscription(t *testing.T) {
	s := servertest.Start(t, servertest.Options{})
	url := "amqp://" + s.Addr("amqp")
	sub := []string{"receive", "--url", url, "--client-id", "app1", "--durable", "news-sub", "--timeout", "300ms", "topic://news"}
	if out, err := runCmd(t, sub...); err != nil || out != "" {
		t.Fatalf("first receive: %q, %v", out, err)
	}
	if out, err := runCmd(t, "send", "--url", url, "topic://news", "while", "away"); err != nil {
		t.Fatalf("send: %v\n%s", err, out)
	}
	if out, err := runCmd(t, append(sub[:len(sub)-3], "--count", "1", "--timeout", "5s", "topic://news")...); err != nil || out != "while away\n" {
		t.Fatalf("second receive: %q, %v", out, err)
	}
}

// TestAMQPBenchIdle: --idle opens that many AMQP connections (SASL and
// open done) and holds them.
func TestAMQPBenchIdle(t *testing.T) {
	s := servertest.Start(t, servertest.Options{})
	out, err := runCmd(t, "bench", "--url", "amqp://"+s.Addr("amqp"), "--idle", "5", "--hold", "10ms")
	if err != nil || !strings.Contains(out, "5 connections open") {
		t.Fatalf("bench --idle: %q, %v", out, err)
	}
}
