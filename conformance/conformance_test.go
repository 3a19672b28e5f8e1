package conformance_test

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"strings"
	"testing"
	"time"

	"github.com/junctionmq/junction/conformance"
	"github.com/junctionmq/junction/server/servertest"
)

// Point the suite at another broker with
//
//	go test ./conformance/ -run TestConformance -args -stomp H:P -mqtt H:P -amqp H:P -openwire H:P
//
// Without addresses it starts Junction in-process, which must pass every
// check it has a listener for.
var (
	stompAddr    = flag.String("stomp", "", "STOMP address of the broker under test")
	mqttAddr     = flag.String("mqtt", "", "MQTT address")
	amqpAddr     = flag.String("amqp", "", "AMQP 1.0 address")
	openwireAddr = flag.String("openwire", "", "OpenWire address")
	user         = flag.String("user", "", "user")
	password     = flag.String("password", "", "password")
)

func TestConformance(t *testing.T) {
	o := conformance.Options{STOMP: *stompAddr, MQTT: *mqttAddr, AMQP: *amqpAddr, OpenWire: *openwireAddr,
		User: *user, Password: *password, Timeout: 15 * time.Second}
	external := o.STOMP != "" || o.MQTT != "" || o.AMQP != "" || o.OpenWire != ""
	if !external {
		s := servertest.Start(t, servertest.Options{})
		o.STOMP, o.MQTT, o.AMQP, o.OpenWire = s.Addr("stomp"), s.Addr("mqtt"), s.Addr("amqp"), s.Addr("openwire")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	rep := conformance.Run(ctx, o)
	var out bytes.Buffer
	if err := rep.WriteText(&out); err != nil {
		t.Fatal(err)
	}
	t.Log("\n" + out.String())
	for _, r := range rep.Results {
		if r.Status == conformance.Fail {
			t.Errorf("%s %s%s: %s", r.Protocol, r.Feature, "", r.Reason)
		}
		// Junction claims every feature of every protocol it listens on.
		if !external && r.Status == conformance.Skip && !strings.HasPrefix(r.Reason, "no --") {
			t.Errorf("%s %s skipped on Junction: %s", r.Protocol, r.Feature, r.Reason)
		}
	}
	if rep.Passed == 0 {
		t.Fatal("no check passed")
	}
}

// TestReportFormats checks the JSON form carries what the text shows.
func TestReportFormats(t *testing.T) {
	s := servertest.Start(t, servertest.Options{})
	rep := conformance.Run(context.Background(), conformance.Options{STOMP: s.Addr("stomp"), Only: []string{"stomp/connect"}, Timeout: 10 * time.Second})
	var js bytes.Buffer
	if err := rep.WriteJSON(&js); err != nil {
		t.Fatal(err)
	}
	var back conformance.Report
	if err := json.Unmarshal(js.Bytes(), &back); err != nil {
		t.Fatal(err)
	}
	if len(back.Results) != 1 || back.Results[0].Status != conformance.Pass || back.Passed != 1 || !strings.Contains(strings.ToLower(back.Broker), "junction") {
		t.Fatalf("report %+v", back)
	}
	var txt bytes.Buffer
	if err := rep.WriteText(&txt); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(txt.String(), "connect 1.2") || !strings.Contains(txt.String(), "1 passed, 0 failed, 0 skipped") {
		t.Fatalf("text report:\n%s", txt.String())
	}
}

// TestMarkdownMatrix lays two reports side by side.
func TestMarkdownMatrix(t *testing.T) {
	a := &conformance.Report{Broker: "A", Passed: 1, Skipped: 1, Results: []conformance.Result{
		{Protocol: "stomp", Feature: "connect 1.2", Status: conformance.Pass},
		{Protocol: "interop", Feature: "stomp -> mqtt", Sender: "stomp", Receiver: "mqtt", Status: conformance.Skip, Reason: "no --mqtt address given"},
	}}
	b := &conformance.Report{Broker: "B", Failed: 1, Results: []conformance.Result{
		{Protocol: "stomp", Feature: "connect 1.2", Status: conformance.Fail, Reason: "refused"},
	}}
	var out bytes.Buffer
	if err := conformance.WriteMarkdownMatrix(&out, []*conformance.Report{a, b}); err != nil {
		t.Fatal(err)
	}
	s := out.String()
	for _, want := range []string{"| protocol | feature | A | B |", "| stomp | connect 1.2 | PASS | FAIL |", "| interop | stomp → mqtt | SKIP | – |", "stomp connect 1.2: FAIL refused"} {
		if !strings.Contains(s, want) {
			t.Errorf("matrix lacks %q:\n%s", want, s)
		}
	}
	if strings.Contains(s, "no --mqtt") {
		t.Errorf("the notes list a protocol that was not given:\n%s", s)
	}
}
