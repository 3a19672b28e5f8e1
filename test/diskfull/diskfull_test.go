// Package diskfull runs the broker on a small tmpfs that fills up: nothing
// may be confirmed that was not stored, a refused message is never
// delivered, the broker resumes by itself once space is freed, and after a
// restart exactly the confirmed messages are there. It needs to mount a
// tmpfs (root); elsewhere it is skipped, and the same paths are covered with
// injected faults in storage/journal and core.
package diskfull

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/paho"
	mqtt3 "github.com/eclipse/paho.mqtt.golang"
	stompc "github.com/go-stomp/stomp/v3"

	"github.com/junctionmq/junction/config"
	"github.com/junctionmq/junction/internal/testkit"
	"github.com/junctionmq/junction/server"
	"github.com/junctionmq/junction/server/servertest"
)

const (
	waitFor  = 20 * time.Second
	msgSize  = 8 << 10
	segSize  = 2 << 20
	fsSize   = "12m"
	fillerMB = 4
)

// mountTmpfs mounts a tmpfs of fsSize on a fresh folder, or skips the test.
func mountTmpfs(t *testing.T) string {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("mounting a tmpfs needs root")
	}
	dir := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size="+fsSize, "tmpfs", dir).CombinedOutput(); err != nil {
		t.Skipf("cannot mount a tmpfs here: %v: %s", err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("umount", dir).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v: %s", dir, err, out)
		}
	})
	return dir
}

func body(i int) []byte {
	b := bytes.Repeat([]byte{'x'}, msgSize)
	copy(b, fmt.Sprintf("%08d", i))
	return b
}

func dialSTOMP(t *testing.T, s *server.Server) *stompc.Conn {
	t.Helper()
	c, err := stompc.Dial("tcp", s.Addr("stomp"), stompc.ConnOpt.Logger(testkit.QuietLogger{}), stompc.ConnOpt.MsgSendTimeout(waitFor),
		stompc.ConnOpt.DisconnectReceiptTimeout(waitFor))
	if err != nil {
		t.Fatalf("go-stomp dial: %v", err)
	}
	return c
}

// sender sends persistent messages with receipts through go-stomp,
// reconnecting after the ERROR that a refused send ends its connection with.
type sender struct {
	t         *testing.T
	s         *server.Server
	c         *stompc.Conn
	confirmed map[int]bool
	refused   map[int]bool
}

func (sd *sender) send(i int) error {
	if sd.c == nil {
		sd.c = dialSTOMP(sd.t, sd.s)
	}
	err := sd.c.Send("/queue/full", "application/octet-stream", body(i),
		stompc.SendOpt.Receipt, stompc.SendOpt.Header("persistent", "true"))
	if err != nil {
		sd.refused[i] = true
		sd.c.MustDisconnect()
		sd.c = nil
		return err
	}
	sd.confirmed[i] = true
	return nil
}

func (sd *sender) close() {
	if sd.c != nil {
		_ = sd.c.Disconnect()
		sd.c = nil
	}
}

func TestFullDisk(t *testing.T) {
	dir := mountTmpfs(t)
	data := filepath.Join(dir, "data")
	filler := filepath.Join(dir, "filler")
	if err := os.WriteFile(filler, make([]byte, fillerMB<<20), 0o644); err != nil {
		t.Fatal(err)
	}
	var logs testkit.LogBuffer
	log := slog.New(slog.NewTextHandler(&logs, nil))
	journal := func(c *config.Config) {
		c.Store.Type = "journal"
		c.Data = data
		c.Store.SegmentSize = segSize
	}
	s := servertest.Start(t, servertest.Options{Config: journal, Logger: log})

	// Fill the disk: persistent sends with receipts until one is refused.
	sd := &sender{t: t, s: s, confirmed: map[int]bool{}, refused: map[int]bool{}}
	defer sd.close()
	next := 0
	fill := func() {
		t.Helper()
		for limit := next + 4000; s.Core.StoreHealth() == nil; next++ {
			if next > limit {
				t.Fatal("the disk never filled")
			}
			if err := sd.send(next); err != nil && s.Core.StoreHealth() == nil {
				t.Fatalf("send %d refused while the store is healthy: %v", next, err)
			}
		}
	}
	fill()
	if len(sd.confirmed) < 100 {
		t.Fatalf("%d messages stored before the disk filled, want hundreds", len(sd.confirmed))
	}
	t.Logf("%d persistent sends confirmed before the store reported %v", len(sd.confirmed), s.Core.StoreHealth())
	// While the store cannot take a new segment, every persistent send is
	// refused with an ERROR, never confirmed.
	for range 20 {
		if err := sd.send(next); err == nil {
			t.Fatalf("send %d confirmed while the store reports %v", next, s.Core.StoreHealth())
		}
		next++
	}

	// A persistent MQTT session's SUBSCRIBE is refused (SUBACK 0x80), not
	// granted and lost at the next restart.
	m3 := mqtt3.NewClient(mqtt3.NewClientOptions().AddBroker("tcp://" + s.Addr("mqtt")).
		SetClientID("persistent").SetCleanSession(false).SetAutoReconnect(false))
	if tok := m3.Connect(); !tok.WaitTimeout(waitFor) || tok.Error() != nil {
		t.Fatalf("mqtt connect: %v", tok.Error())
	}
	tok := m3.Subscribe("sensors/#", 1, nil)
	if !tok.WaitTimeout(waitFor) {
		t.Fatal("no SUBACK")
	}
	if code := tok.(*mqtt3.SubscribeToken).Result()["sensors/#"]; code != 0x80 {
		t.Fatalf("SUBACK of a persistent session while the store cannot write: %#x, want 0x80", code)
	}
	m3.Disconnect(250)

	// An MQTT 5 QoS 1 PUBLISH gets a PUBACK with a failure reason.
	nc, err := net.DialTimeout("tcp", s.Addr("mqtt"), waitFor)
	if err != nil {
		t.Fatal(err)
	}
	p5, _, err := testkit.ConnectPaho5(t, nc, &paho.Connect{ClientID: "pub5", CleanStart: true}, waitFor, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	resp, err := p5.Publish(ctx, &paho.Publish{Topic: "full", QoS: 1, Payload: []byte("refused")})
	if err == nil && (resp == nil || resp.ReasonCode < 0x80) {
		t.Fatalf("PUBACK %+v for a QoS 1 publish the store cannot take", resp)
	}

	checkLog(t, "before the restart", logs.String(), 1, 0)

	// Restarted on the full disk, the broker starts (recovery needs no new
	// segment), refuses persistent sends and delivers: acks still fit the
	// active segment, and their receipts say they are stored.
	if err := s.Shutdown(); err != nil {
		t.Fatalf("shutdown: %v", err)
	}
	var logs2 testkit.LogBuffer
	s = servertest.Start(t, servertest.Options{Config: journal, Logger: slog.New(slog.NewTextHandler(&logs2, nil))})
	sd.s = s
	if err := sd.send(next); err == nil {
		t.Fatalf("send %d confirmed on a restarted broker whose disk is full", next)
	}
	next++
	c := dialSTOMP(t, s)
	sub, err := c.Subscribe("/queue/full", stompc.AckClientIndividual, stompc.SubscribeOpt.Header("activemq.prefetchSize", "1"))
	if err != nil {
		t.Fatal(err)
	}
	acked := map[int]bool{}
	for len(sd.confirmed) > 0 {
		m := testkit.RecvSTOMP(t, sub, waitFor)
		i, _ := strconv.Atoi(string(m.Body[:8]))
		if !sd.confirmed[i] {
			t.Fatalf("delivered message %d, whose send was refused", i)
		}
		if err := c.Ack(m); err != nil {
			t.Fatalf("ACK: %v", err)
		}
		delete(sd.confirmed, i)
		acked[i] = true
	}
	// A receipt covers every earlier frame: the acks are stored.
	if err := c.Disconnect(); err != nil {
		t.Fatalf("DISCONNECT receipt after the acks: %v", err)
	}
	t.Logf("%d messages drained and acked on the full disk", len(acked))

	// Draining freed the segments those messages were in: the journal
	// reuses one and takes persistent sends again, without a restart.
	awaitHealthy(t, s, "the queue was drained")
	for range 50 {
		if err := sd.send(next); err != nil {
			t.Fatalf("send %d after draining: %v", next, err)
		}
		next++
	}

	// Filled again, then a file deleted: that is enough too.
	fill()
	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	awaitHealthy(t, s, "space was freed")
	resumedAt := next
	for range 50 {
		if err := sd.send(next); err != nil {
			t.Fatalf("send %d after space was freed: %v", next, err)
		}
		next++
	}
	sd.close()

	checkLog(t, "after the restart", logs2.String(), 2, 2)

	// After a restart exactly the confirmed messages are there, in order;
	// none that was refused.
	if err := s.Shutdown(); err != nil {
		t.Fatalf("shutdown: %v", err)
	}
	s = servertest.Start(t, servertest.Options{Config: journal})
	c = dialSTOMP(t, s)
	defer c.Disconnect()
	sub, err = c.Subscribe("/queue/full", stompc.AckAuto)
	if err != nil {
		t.Fatal(err)
	}
	got := 0
	last := -1
	for got < len(sd.confirmed) {
		m := testkit.RecvSTOMP(t, sub, waitFor)
		i, err := strconv.Atoi(string(m.Body[:8]))
		if err != nil || len(m.Body) != msgSize {
			t.Fatalf("a message that was not sent: %q...", m.Body[:min(16, len(m.Body))])
		}
		if acked[i] {
			t.Fatalf("message %d is back after the restart, but its ack was confirmed", i)
		}
		if !sd.confirmed[i] {
			t.Fatalf("message %d is back after the restart, but its send was refused", i)
		}
		if i <= last {
			t.Fatalf("message %d after %d", i, last)
		}
		last = i
		got++
	}
	if last < resumedAt {
		t.Fatalf("the last message is %d; the sends confirmed after resuming (from %d) are missing", last, resumedAt)
	}
	t.Logf("%d messages back after the restart, %d sends refused", got, len(sd.refused))
	if n := queueMessages(s, "full"); n != 0 {
		t.Fatalf("%d messages left after the %d confirmed ones", n, got)
	}
}

// checkLog checks that a broker said once per change of state that its
// store could not write (with the free space) and that it could again.
func checkLog(t *testing.T, when, out string, failed, resumed int) {
	t.Helper()
	if n := strings.Count(out, "cannot prepare the next segment"); n != failed {
		t.Errorf("%s: the journal logged the failure %d times, want %d:\n%s", when, n, failed, tail(out))
	}
	if !strings.Contains(out, "free=") {
		t.Errorf("%s: the failure's log line does not give the free space:\n%s", when, tail(out))
	}
	if n := strings.Count(out, "level=ERROR"); n != 2*failed {
		t.Errorf("%s: %d ERROR lines, want %d (the journal's detail and the broker's consequence, once per failure):\n%s", when, n, 2*failed, tail(out))
	}
	if n := strings.Count(out, "writes resume"); n != resumed {
		t.Errorf("%s: the journal logged resuming %d times, want %d:\n%s", when, n, resumed, tail(out))
	}
	if n := strings.Count(out, "store writes again"); n != resumed {
		t.Errorf("%s: the broker logged resuming %d times, want %d:\n%s", when, n, resumed, tail(out))
	}
}

// awaitHealthy waits for the store to take writes again. Nothing tells a
// client, so it polls.
func awaitHealthy(t *testing.T, s *server.Server, after string) {
	t.Helper()
	deadline := time.Now().Add(waitFor)
	for s.Core.StoreHealth() != nil {
		if time.Now().After(deadline) {
			t.Fatalf("the store did not resume after %s: %v", after, s.Core.StoreHealth())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func queueMessages(s *server.Server, name string) int {
	q, ok := s.Core.Queue(name)
	if !ok {
		return 0
	}
	return q.Stats().Messages
}

func tail(s string) string {
	lines := strings.Split(s, "\n")
	if len(lines) > 30 {
		lines = lines[len(lines)-30:]
	}
	return strings.Join(lines, "\n")
}
