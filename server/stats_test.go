package server_test

import (
	"testing"
	"time"

	mqtt3 "github.com/eclipse/paho.mqtt.golang"
	stompc "github.com/go-stomp/stomp/v3"

	"github.com/junctionmq/junction/internal/testkit"
	"github.com/junctionmq/junction/server/servertest"
)

// TestAdapterStats: the STOMP and MQTT adapters count their connections,
// the messages they take in and hand out, and the bytes both ways.
func TestAdapterStats(t *testing.T) {
	s := servertest.Start(t, servertest.Options{})

	sc, err := stompc.Dial("tcp", s.Addr("stomp"))
	if err != nil {
		t.Fatal(err)
	}
	sub, err := sc.Subscribe("/queue/counted", stompc.AckAuto)
	if err != nil {
		t.Fatal(err)
	}
	if err := sc.Send("/queue/counted", "text/plain", []byte("one"), stompc.SendOpt.Receipt); err != nil {
		t.Fatal(err)
	}
	testkit.RecvSTOMP(t, sub, waitFor)

	o := mqtt3.NewClientOptions().AddBroker("tcp://" + s.Addr("mqtt")).SetClientID("counted").SetAutoReconnect(false)
	mc := mqtt3.NewClient(o)
	if tok := mc.Connect(); !tok.WaitTimeout(waitFor) || tok.Error() != nil {
		t.Fatalf("MQTT connect: %v", tok.Error())
	}
	if tok := mc.Publish("counted/t", 1, false, "one"); !tok.WaitTimeout(waitFor) || tok.Error() != nil {
		t.Fatalf("MQTT publish: %v", tok.Error())
	}

	st := s.AdapterStats()
	if g := st["stomp"]; g.Connections != 1 || g.Accepted != 1 || g.MessagesIn != 1 || g.MessagesOut != 1 || g.BytesIn == 0 || g.BytesOut == 0 {
		t.Errorf("stomp stats %+v, want 1 connection, 1 message each way, bytes both ways", g)
	}
	if g := st["mqtt"]; g.Connections != 1 || g.Accepted != 1 || g.MessagesIn != 1 || g.MessagesOut != 0 || g.BytesIn == 0 || g.BytesOut == 0 || g.Extra["sessions"] != 1 {
		t.Errorf("mqtt stats %+v, want 1 connection and session, 1 message in, bytes both ways", g)
	}

	mc.Disconnect(100)
	if err := sc.Disconnect(); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(waitFor); ; time.Sleep(time.Millisecond) {
		st = s.AdapterStats()
		if st["stomp"].Connections == 0 && st["mqtt"].Connections == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("connections still counted after the clients left: %+v", st)
		}
	}
	if st["stomp"].Accepted != 1 || st["mqtt"].Accepted != 1 {
		t.Errorf("accepted counts changed: %+v", st)
	}
}
