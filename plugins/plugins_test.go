package plugins_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/paho"
	stompc "github.com/go-stomp/stomp/v3"
	"golang.org/x/crypto/bcrypt"

	"github.com/junctionmq/junction/config"
	"github.com/junctionmq/junction/core"
	"github.com/junctionmq/junction/core/prop"
	"github.com/junctionmq/junction/internal/testkit"
	"github.com/junctionmq/junction/plugins"
	"github.com/junctionmq/junction/plugins/tracing"
	"github.com/junctionmq/junction/security"
	"github.com/junctionmq/junction/server"
	"github.com/junctionmq/junction/server/servertest"
)

// waitFor bounds every wait for the broker.
const waitFor = 10 * time.Second

// rejectProperty is the plugin of docs/PLUGINS.md: it refuses messages
// carrying a given property and stamps the others.
type rejectProperty struct{ property string }

func (p *rejectProperty) BeforeSend(_ *core.Session, m *core.Message) error {
	if !m.Property(p.property).IsNull() {
		return fmt.Errorf("messages with property %q are not accepted here", p.property)
	}
	m.SetProperty("checked-by", prop.StringValue("reject-property"))
	return nil
}

func init() {
	plugins.Register("reject-property", func(env plugins.Env) (any, error) {
		var o struct {
			Property string `yaml:"property"`
		}
		if err := env.Options.Decode(&o); err != nil {
			return nil, err
		}
		if o.Property == "" {
			return nil, errors.New("options: property is required")
		}
		return &rejectProperty{property: o.Property}, nil
	})
}

// startYAML writes junction.yaml (and users.yaml with alice, an admin, and
// bob, a clerk), loads it as `junction serve` would and starts a broker on
// it.
func startYAML(t *testing.T, yamlText string) (*server.Server, string) {
	t.Helper()
	dir := t.TempDir()
	uf := &security.UsersFile{}
	for _, u := range []struct{ name, pw, role string }{{"alice", "alice-pw", "admin"}, {"bob", "bob-pw", "clerk"}} {
		h, err := security.HashPasswordCost(u.pw, bcrypt.MinCost)
		if err != nil {
			t.Fatal(err)
		}
		uf.Users = append(uf.Users, security.User{Name: u.name, Password: h, Roles: []string{u.role}})
	}
	if err := uf.Save(filepath.Join(dir, "users.yaml")); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "junction.yaml")
	if err := os.WriteFile(path, []byte(yamlText), 0o600); err != nil {
		t.Fatal(err)
	}
	loaded, err := config.Load(path)
	if err != nil {
		t.Fatalf("loading the configuration: %v\n%s", err, yamlText)
	}
	s := servertest.Start(t, servertest.Options{Config: func(c *config.Config) {
		c.Dir, c.Security, c.Plugins = loaded.Dir, loaded.Security, loaded.Plugins
	}})
	return s, dir
}

func stompDial(t *testing.T, s *server.Server, user, pw string) (*stompc.Conn, error) {
	t.Helper()
	opts := []func(*stompc.Conn) error{stompc.ConnOpt.MsgSendTimeout(waitFor)}
	if user != "" {
		opts = append(opts, stompc.ConnOpt.Login(user, pw))
	}
	c, err := stompc.Dial("tcp", s.Addr("stomp"), opts...)
	if err == nil {
		t.Cleanup(func() { _ = c.Disconnect() })
	}
	return c, err
}

func mqttDial(t *testing.T, s *server.Server, id string) *testkit.Paho5 {
	t.Helper()
	nc, err := net.DialTimeout("tcp", s.Addr("mqtt"), waitFor)
	if err != nil {
		t.Fatal(err)
	}
	cl, ack, err := testkit.ConnectPaho5(t, nc, &paho.Connect{ClientID: id, CleanStart: true}, waitFor, nil)
	if err != nil {
		t.Fatalf("MQTT connect %s: %v (%+v)", id, err, ack)
	}
	return cl
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	t.Cleanup(cancel)
	return ctx
}

// TestRejectPluginSTOMPAndMQTT: a plugin's BeforeSend refusal reaches a
// STOMP producer as an ERROR frame and an MQTT 5 producer as a PUBACK
// reason code, the refused messages reach nobody, and the accepted ones
// arrive changed by the plugin.
func TestRejectPluginSTOMPAndMQTT(t *testing.T) {
	s, _ := startYAML(t, "plugins:\n  - name: reject-property\n    options:\n      property: blocked\n")

	// STOMP.
	cons, err := stompDial(t, s, "", "")
	if err != nil {
		t.Fatal(err)
	}
	sub, err := cons.Subscribe("/queue/guarded", stompc.AckAuto)
	if err != nil {
		t.Fatal(err)
	}
	prod, err := stompDial(t, s, "", "")
	if err != nil {
		t.Fatal(err)
	}
	err = prod.Send("/queue/guarded", "text/plain", []byte("refused"), stompc.SendOpt.Receipt, stompc.SendOpt.Header("blocked", "yes"))
	if err == nil || !strings.Contains(err.Error(), "rejected") || !strings.Contains(err.Error(), "blocked") {
		t.Fatalf("STOMP SEND with the blocked property: err %v, want an ERROR naming the rejection", err)
	}
	prod2, err := stompDial(t, s, "", "")
	if err != nil {
		t.Fatal(err)
	}
	if err := prod2.Send("/queue/guarded", "text/plain", []byte("accepted"), stompc.SendOpt.Receipt); err != nil {
		t.Fatalf("STOMP SEND without the property: %v", err)
	}
	select {
	case m := <-sub.C:
		if m.Err != nil {
			t.Fatal(m.Err)
		}
		if string(m.Body) != "accepted" {
			t.Fatalf("STOMP consumer got %q first: the rejected message was delivered", m.Body)
		}
		if got := m.Header.Get("checked-by"); got != "reject-property" {
			t.Errorf("header checked-by = %q: the plugin's change is missing", got)
		}
	case <-time.After(waitFor):
		t.Fatal("the accepted STOMP message did not arrive")
	}

	// MQTT 5.
	msub := mqttDial(t, s, "guard-sub")
	if _, err := msub.Subscribe(ctxT(t), &paho.Subscribe{Subscriptions: []paho.SubscribeOptions{{Topic: "guarded/m", QoS: 1}}}); err != nil {
		t.Fatal(err)
	}
	mpub := mqttDial(t, s, "guard-pub")
	r, err := mpub.Publish(ctxT(t), &paho.Publish{Topic: "guarded/m", QoS: 1, Payload: []byte("refused"),
		Properties: &paho.PublishProperties{User: paho.UserProperties{{Key: "blocked", Value: "yes"}}}})
	if r == nil || r.ReasonCode != 0x83 {
		t.Fatalf("MQTT publish with the blocked property: response %+v, err %v; want PUBACK 0x83 (not willing to accept)", r, err)
	}
	if r, err := mpub.Publish(ctxT(t), &paho.Publish{Topic: "guarded/m", QoS: 1, Payload: []byte("accepted")}); err != nil || r.ReasonCode != 0 {
		t.Fatalf("MQTT publish without the property: %+v, %v", r, err)
	}
	select {
	case m := <-msub.Msgs:
		if string(m.Payload) != "accepted" {
			t.Fatalf("MQTT subscriber got %q first: the rejected message was delivered", m.Payload)
		}
		if got := m.Properties.User.Get("checked-by"); got != "reject-property" {
			t.Errorf("user property checked-by = %q: the plugin's change is missing", got)
		}
	case <-time.After(waitFor):
		t.Fatal("the accepted MQTT message did not arrive")
	}
}

// adminDo sends a request to the admin listener and returns the status.
func adminDo(t *testing.T, s *server.Server, user, pw, method, path, body string) int {
	t.Helper()
	req, err := http.NewRequest(method, "http://"+s.Addr("admin")+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if user != "" {
		req.SetBasicAuth(user, pw)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := (&http.Client{Timeout: waitFor}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode
}

func adminGet(t *testing.T, s *server.Server, user, pw, path string) (int, []byte) {
	t.Helper()
	req, err := http.NewRequest("GET", "http://"+s.Addr("admin")+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if user != "" {
		req.SetBasicAuth(user, pw)
	}
	resp, err := (&http.Client{Timeout: waitFor}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, raw
}

// TestTraceRoutesNeedManage: on a broker with logins, the trace routes
// answer only a user with the manage permission.
func TestTraceRoutesNeedManage(t *testing.T) {
	s, _ := startYAML(t, auditYAML+"  - name: tracing\n")
	if code, _ := adminGet(t, s, "", "", "/api/v1/traces"); code != http.StatusUnauthorized {
		t.Errorf("anonymous: %d, want 401", code)
	}
	if code, _ := adminGet(t, s, "bob", "bob-pw", "/api/v1/traces"); code != http.StatusForbidden {
		t.Errorf("bob (no manage): %d, want 403", code)
	}
	if code, raw := adminGet(t, s, "alice", "alice-pw", "/api/v1/traces"); code != 200 || !strings.Contains(string(raw), `"capacity":10000`) {
		t.Errorf("alice: %d %s", code, raw)
	}
}

// TestUnknownPlugin: a name the binary does not have stops the start.
func TestUnknownPlugin(t *testing.T) {
	_, err := plugins.Load([]plugins.Spec{{Name: "no-such-plugin"}}, nil, "", "")
	if err == nil || !strings.Contains(err.Error(), "no-such-plugin") || !strings.Contains(err.Error(), "audit") {
		t.Fatalf("Load: %v; want an error naming the plugin and the known ones", err)
	}
	opts, err := config.OptionsFromYAML("propertee: x")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := plugins.Load([]plugins.Spec{{Name: "reject-property", Options: opts}}, nil, "", ""); err == nil || !strings.Contains(err.Error(), `reject-property: line 1: unknown key "propertee" in options; valid keys: property`) {
		t.Fatalf("Load with a misspelt option: %v; want the unknown key named", err)
	}
}

const auditYAML = `security:
  users-file: users.yaml
  anonymous: false
  permissions:
    "orders.#": {send: [clerk, admin], consume: [clerk, admin], createNonDurableQueue: [clerk, admin], createAddress: [clerk, admin], manage: [admin]}
    "#": {send: [admin], consume: [admin], createDurableQueue: [admin], createNonDurableQueue: [admin], createAddress: [admin], browse: [admin], manage: [admin]}
plugins:
  - name: audit
    options:
      file: logs/audit.log
`

// auditLines waits until the audit log has a line for which match is
// true and returns every line read.
func awaitAudit(t *testing.T, path string, match func(map[string]any) bool) map[string]any {
	t.Helper()
	deadline := time.Now().Add(waitFor)
	for {
		data, _ := os.ReadFile(path)
		sc := bufio.NewScanner(bytes.NewReader(data))
		for sc.Scan() {
			var line map[string]any
			if err := json.Unmarshal(sc.Bytes(), &line); err != nil {
				t.Fatalf("audit line is not JSON: %q: %v", sc.Text(), err)
			}
			if match(line) {
				return line
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no matching audit line within %v; the log has:\n%s", waitFor, data)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestAuditLog: a failed login, a successful one, a denial and a
// management action each become one JSON line in the audit plugin's file.
func TestAuditLog(t *testing.T) {
	s, dir := startYAML(t, auditYAML)
	path := filepath.Join(dir, "logs", "audit.log")

	if _, err := stompDial(t, s, "bob", "wrong"); err == nil {
		t.Fatal("STOMP login with a wrong password succeeded")
	}
	line := awaitAudit(t, path, func(l map[string]any) bool { return l["event"] == "login.failed" })
	if line["user"] != "bob" || line["reason"] != "wrong password" || !strings.HasPrefix(fmt.Sprint(line["remote"]), "127.0.0.1:") {
		t.Errorf("login.failed line %v: want user bob, reason wrong password, the remote address", line)
	}
	if _, err := time.Parse(time.RFC3339Nano, fmt.Sprint(line["time"])); err != nil {
		t.Errorf("time %v: %v", line["time"], err)
	}

	c, err := stompDial(t, s, "bob", "bob-pw")
	if err != nil {
		t.Fatal(err)
	}
	line = awaitAudit(t, path, func(l map[string]any) bool { return l["event"] == "login" && l["user"] == "bob" })
	if line["protocol"] != "stomp" {
		t.Errorf("login line %v: want protocol stomp", line)
	}
	if err := c.Send("/queue/payroll", "text/plain", []byte("x"), stompc.SendOpt.Receipt); err == nil {
		t.Fatal("bob sent to payroll, which only admins may")
	}
	line = awaitAudit(t, path, func(l map[string]any) bool { return l["event"] == "access.denied" })
	if line["user"] != "bob" || line["action"] != "send" || line["address"] != "payroll" {
		t.Errorf("access.denied line %v: want user bob, action send, address payroll", line)
	}
	awaitAudit(t, path, func(l map[string]any) bool { return l["event"] == "logout" && l["user"] == "bob" })

	// A management action through the admin listener, as the console does it.
	if code := adminDo(t, s, "alice", "alice-pw", "POST", "/api/v1/queues", `{"name":"orders.a","address":"orders.a","routing_type":"anycast"}`); code != 201 {
		t.Fatalf("create queue over the admin API: %d", code)
	}
	if code := adminDo(t, s, "alice", "alice-pw", "POST", "/api/v1/queues/orders.a/purge", `{}`); code != 200 {
		t.Fatalf("purge over the admin API: %d", code)
	}
	line = awaitAudit(t, path, func(l map[string]any) bool { return l["event"] == "management" && l["action"] == "queue.purge" })
	if line["user"] != "alice" || line["target"] != "orders.a" || line["result"] != "ok" || !strings.HasPrefix(fmt.Sprint(line["remote"]), "127.0.0.1:") {
		t.Errorf("management line %v", line)
	}
	awaitAudit(t, path, func(l map[string]any) bool { return l["event"] == "management" && l["action"] == "queue.create" })
	if st, err := os.Stat(path); err != nil || st.Mode().Perm() != 0o600 {
		t.Errorf("audit log mode: %v %v; want 0600", st.Mode(), err)
	}
}

// TestTraceSTOMPToMQTT follows one message from a STOMP SEND to its
// delivery to an MQTT subscriber and that subscriber's ack, in the ring
// and through the HTTP route the management listener serves.
func TestTraceSTOMPToMQTT(t *testing.T) {
	s, _ := startYAML(t, "plugins:\n  - name: tracing\n    options: {capacity: 100, log: false}\n")
	tr, ok := s.Plugins.Plugin("tracing").(*tracing.Tracer)
	if !ok {
		t.Fatal("no tracing plugin loaded")
	}
	msub := mqttDial(t, s, "trace-sub")
	if _, err := msub.Subscribe(ctxT(t), &paho.Subscribe{Subscriptions: []paho.SubscribeOptions{{Topic: "traced/x", QoS: 1}}}); err != nil {
		t.Fatal(err)
	}
	prod, err := stompDial(t, s, "", "")
	if err != nil {
		t.Fatal(err)
	}
	if err := prod.Send("/topic/traced.x", "text/plain", []byte("follow me"), stompc.SendOpt.Receipt); err != nil {
		t.Fatal(err)
	}
	select {
	case m := <-msub.Msgs:
		if string(m.Payload) != "follow me" {
			t.Fatalf("MQTT got %q", m.Payload)
		}
	case <-time.After(waitFor):
		t.Fatal("the message did not reach MQTT")
	}
	var id uint64
	for _, e := range tr.Recent(0) {
		if e.Kind == "sent" && e.Address == "traced.x" {
			id = e.Message
		}
	}
	if id == 0 {
		t.Fatalf("no sent event for traced.x: %+v", tr.Recent(0))
	}
	// The ack follows the PUBACK the client sends after handing the
	// message over: wait for it.
	var events []tracing.Event
	deadline := time.Now().Add(waitFor)
	for {
		events = tr.Trace(id)
		if len(events) >= 3 || time.Now().After(deadline) {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	want := []struct{ kind, protocol string }{{"sent", "stomp"}, {"delivered", "mqtt"}, {"acknowledged", "mqtt"}}
	if len(events) != len(want) {
		t.Fatalf("trace of ID:%d: %+v; want sent, delivered, acknowledged", id, events)
	}
	for i, w := range want {
		if events[i].Kind != w.kind || events[i].Protocol != w.protocol {
			t.Errorf("event %d: %s over %q, want %s over %s", i, events[i].Kind, events[i].Protocol, w.kind, w.protocol)
		}
	}
	if q := events[1].Queue; q == "" || events[1].Queue != events[2].Queue || len(events[0].Queues) != 1 || events[0].Queues[0] != q {
		t.Errorf("queues: sent to %v, delivered from %q, acked on %q", events[0].Queues, events[1].Queue, events[2].Queue)
	}
	if events[1].ClientID != "trace-sub" {
		t.Errorf("delivered to client %q, want trace-sub", events[1].ClientID)
	}

	// The same through the admin listener, which serves the plugin's
	// routes behind its own authentication.
	var body struct {
		Message string
		Items   []tracing.Event
	}
	code, raw := adminGet(t, s, "", "", fmt.Sprintf("/api/v1/traces/ID:%d", id))
	if err := json.Unmarshal(raw, &body); err != nil || code != 200 {
		t.Fatalf("GET trace: %d %s %v", code, raw, err)
	}
	if body.Message != fmt.Sprintf("ID:%d", id) || len(body.Items) != 3 || body.Items[2].Kind != "acknowledged" {
		t.Errorf("GET trace: %s", raw)
	}
	if code, raw := adminGet(t, s, "", "", "/api/v1/traces/nonsense"); code != http.StatusBadRequest {
		t.Errorf("GET a bad id: %d %s, want 400", code, raw)
	}
	if code, raw := adminGet(t, s, "", "", "/api/v1/traces?limit=2"); code != 200 || !strings.Contains(string(raw), `"event":"acknowledged"`) {
		t.Errorf("GET the latest events: %d %s", code, raw)
	}
}
