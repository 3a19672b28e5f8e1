package memory

import (
	"bufio"
	"flag"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/junctionmq/junction/protocols/mqtt/packet"
)

var (
	flagDevices   = flag.Int("devices", 0, "TestSlowDevicesBesideMosquitto: never-reading MQTT devices per broker (0 skips the measurement; 10000 needs ulimit -n 20000)")
	flagDeviceKiB = flag.Int("device-kib", 512, "TestSlowDevicesBesideMosquitto: KiB sent to each device, in 1 KiB QoS 0 messages")
)

// TestSlowDevicesBesideMosquitto measures, for docs/PERFORMANCE.md, what
// many slow MQTT devices cost Junction under its default limits and
// Mosquitto under its own, one broker after the other in the same run: each
// device subscribes at QoS 0 to its own topic with a 4 KiB receive buffer
// and never reads, and a producer sends -device-kib to every device. The
// brokers run as processes of their own (a device is one descriptor here
// and one in the broker; one process may have 20,000). It is a measurement,
// run on demand:
//
//	go test ./test/memory -run TestSlowDevicesBesideMosquitto -devices 10000 -v -timeout 30m
//
// It fails if Junction keeps more per device than its limits allow (256 KiB
// of queued messages, 100 in flight, the collector's slack: 1.5 MiB).
func TestSlowDevicesBesideMosquitto(t *testing.T) {
	if *flagDevices == 0 {
		t.Skip("a measurement: run with -devices N (docs/PERFORMANCE.md)")
	}
	mosquitto, err := exec.LookPath("mosquitto")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("mosquitto not installed (apt-get install -y mosquitto)")
		}
		t.Skip("mosquitto not installed (apt-get install -y mosquitto)")
	}
	n, kib := *flagDevices, *flagDeviceKiB

	b := start(t, "")
	j := slowDevices(t, b.mqtt, b.cmd.Process.Pid, n, kib)
	t.Logf("Junction, default limits: %s", j)
	_ = b.cmd.Process.Kill()
	<-b.exited

	m := startMosquitto(t, mosquitto)
	mq := slowDevices(t, m.addr, m.cmd.Process.Pid, n, kib)
	t.Logf("Mosquitto, default limits: %s", mq)

	if per := j.perDevice(); per > 1536<<10 {
		t.Errorf("Junction keeps %s per slow device: more than its limits allow", mib(per))
	}
}

// deviceRun is what one broker's RSS did.
type deviceRun struct {
	devices, kib              int
	before, idle, peak, after int64
	connect, flood            time.Duration
}

// perDevice is the growth at the peak, while every device was being sent
// to: a broker may close devices that read nothing (Junction after its
// 30 s write timeout), which lowers the final figure.
func (r deviceRun) perDevice() int64 { return (r.peak - r.idle) / int64(r.devices) }

func (r deviceRun) String() string {
	return fmt.Sprintf("%d devices: RSS %s before, %s connected (%s each, %v); %d KiB sent to each in %v: peak %s (%s per device), %s at the end",
		r.devices, mib(r.before), mib(r.idle), kibs((r.idle-r.before)/int64(r.devices)), r.connect.Round(time.Second),
		r.kib, r.flood.Round(time.Second), mib(r.peak), kibs(r.perDevice()), mib(r.after))
}

func kibs(n int64) string { return fmt.Sprintf("%.1f KiB", float64(n)/1024) }

// slowDevices connects the devices, floods them and closes them again.
func slowDevices(t *testing.T, addr string, pid, devices, kib int) deviceRun {
	t.Helper()
	rss := func() int64 { return procRSS(t, pid) }
	r := deviceRun{devices: devices, kib: kib, before: rss()}
	conns := make([]net.Conn, 0, devices)
	defer func() {
		for _, nc := range conns {
			nc.Close()
		}
	}()
	start := time.Now()
	for i := range devices {
		nc := dialSmallBuffer(t, addr)
		conns = append(conns, nc)
		deviceHandshake(t, nc, fmt.Sprintf("device-%d", i), fmt.Sprintf("fleet/%d/cmd", i))
	}
	r.connect = time.Since(start)
	r.idle = rss()

	pub := dialMQTT(t, addr, "fleet-pub")
	body := []byte(strings.Repeat("x", 1024))
	topics := make([][]byte, devices)
	for i := range topics {
		topics[i] = fmt.Appendf(nil, "fleet/%d/cmd", i)
	}
	// The peak is sampled while the producer runs: there is no event for
	// another process's memory.
	stop, peaked := make(chan struct{}), make(chan int64, 1)
	go func() {
		var peak int64
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for {
			if v, err := readRSS(pid); err == nil {
				peak = max(peak, v)
			}
			select {
			case <-stop:
				peaked <- peak
				return
			case <-tick.C:
			}
		}
	}()
	start = time.Now()
	for range kib {
		for i, topic := range topics {
			pub.write(&packet.Publish{Topic: topic, Payload: body})
			if i%64 == 63 {
				pub.flush()
			}
		}
	}
	pub.sync()
	r.flood = time.Since(start)
	close(stop)
	r.after = rss()
	r.peak = max(<-peaked, r.after)
	pub.nc.Close()
	return r
}

// dialSmallBuffer dials with a 4 KiB receive buffer: what a never-reading
// device is sent stays with the broker, not in the kernel.
func dialSmallBuffer(t *testing.T, addr string) net.Conn {
	t.Helper()
	d := net.Dialer{Timeout: 10 * time.Second, Control: func(_, _ string, rc syscall.RawConn) error {
		var serr error
		if err := rc.Control(func(fd uintptr) {
			serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096)
		}); err != nil {
			return err
		}
		return serr
	}}
	nc, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	return nc
}

// deviceHandshake connects as id and subscribes to filter at QoS 0.
func deviceHandshake(t *testing.T, nc net.Conn, id, filter string) {
	t.Helper()
	var buf []byte
	buf, _ = (&packet.Connect{Version: packet.Version311, CleanStart: true, ClientID: id}).Append(buf, packet.Version311)
	buf, _ = (&packet.Subscribe{PacketID: 1, Subscriptions: []packet.Subscription{{Filter: filter}}}).Append(buf, packet.Version311)
	_ = nc.SetDeadline(time.Now().Add(30 * time.Second))
	if _, err := nc.Write(buf); err != nil {
		t.Fatal(err)
	}
	rd := packet.NewReader(nc, 0)
	for _, want := range []packet.Type{packet.CONNACK, packet.SUBACK} {
		fh, _, err := rd.ReadPacket()
		if err != nil {
			t.Fatalf("%s: waiting for %v: %v", id, want, err)
		}
		if fh.Type != want {
			t.Fatalf("%s: got %v, want %v", id, fh.Type, want)
		}
	}
	_ = nc.SetDeadline(time.Time{})
}

// mosquittoProc is a Mosquitto with its default limits on a free port.
type mosquittoProc struct {
	cmd    *exec.Cmd
	addr   string
	exited chan struct{}
}

func startMosquitto(t *testing.T, bin string) *mosquittoProc {
	t.Helper()
	dir := t.TempDir()
	m := &mosquittoProc{addr: freePort(t), exited: make(chan struct{})}
	_, port, _ := net.SplitHostPort(m.addr)
	conf := filepath.Join(dir, "mosquitto.conf")
	// Defaults but for the listener and anonymous access: max_queued_messages
	// 1000, no byte limit, no persistence.
	if err := os.WriteFile(conf, []byte("listener "+port+" 127.0.0.1\nallow_anonymous true\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	// Mosquitto keeps the soft descriptor limit it is given; Go lowered it
	// back for its children.
	m.cmd = exec.Command("sh", "-c", `ulimit -n "$(ulimit -Hn)" && exec "$0" -c "$1"`, bin, conf)
	m.cmd.Stderr = os.Stderr
	if err := m.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { _ = m.cmd.Wait(); close(m.exited) }()
	t.Cleanup(func() {
		_ = m.cmd.Process.Kill()
		<-m.exited
	})
	deadline := time.Now().Add(10 * time.Second)
	for {
		nc, err := net.DialTimeout("tcp", m.addr, time.Second)
		if err == nil {
			nc.Close()
			return m
		}
		if time.Now().After(deadline) {
			t.Fatalf("mosquitto not listening on %s: %v", m.addr, err)
		}
		select {
		case <-m.exited:
			t.Fatal("mosquitto exited at start")
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// procRSS is a process's resident set in bytes.
func procRSS(t *testing.T, pid int) int64 {
	t.Helper()
	v, err := readRSS(pid)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// readRSS reads VmRSS from /proc.
func readRSS(pid int) (int64, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			var kb int64
			if _, err := fmt.Sscan(strings.TrimSuffix(strings.TrimSpace(rest), "kB"), &kb); err != nil {
				return 0, fmt.Errorf("VmRSS of %d: %w", pid, err)
			}
			return kb << 10, nil
		}
	}
	return 0, fmt.Errorf("no VmRSS for process %d", pid)
}
