// Package deploy_test checks what deploy/ ships as far as this machine
// allows: the static binary for both released architectures (built by the
// same script as the container image's build stage), the Dockerfile's
// shape, the systemd unit (systemd-analyze verify), the example
// configurations (loaded and planned exactly as `junction serve` does) and
// the Helm chart (helm lint and helm template, with every configuration
// the chart renders loaded the same way).
package deploy_test

import (
	"bytes"
	"debug/elf"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/junctionmq/junction/config"
	"github.com/junctionmq/junction/server"
)

// tool finds a command, failing under CI (which installs it: make
// test-deps) and skipping elsewhere.
func tool(t *testing.T, name string, more ...string) string {
	t.Helper()
	for _, p := range append([]string{name}, more...) {
		if path, err := exec.LookPath(p); err == nil {
			return path
		}
	}
	if os.Getenv("CI") != "" {
		t.Fatalf("%s is not installed (make test-deps installs it)", name)
	}
	t.Skipf("%s is not installed (make test-deps installs it)", name)
	return ""
}

// TestStaticBinaryBothArchitectures runs the image's build script for
// linux/amd64 and linux/arm64 and checks each result is a static ELF for
// its machine.
func TestStaticBinaryBothArchitectures(t *testing.T) {
	if testing.Short() {
		t.Skip("cross-compiles the broker twice")
	}
	dir := t.TempDir()
	for arch, machine := range map[string]elf.Machine{"amd64": elf.EM_X86_64, "arm64": elf.EM_AARCH64} {
		out := filepath.Join(dir, "junction-"+arch)
		cmd := exec.Command("./build-binary.sh", out, "v0.0.0-test", "0123abc", "2026-12-06T00:00:00Z")
		cmd.Env = append(os.Environ(), "GOOS=linux", "GOARCH="+arch)
		if b, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("build-binary.sh for %s: %v\n%s", arch, err, b)
		}
		f, err := elf.Open(out)
		if err != nil {
			t.Fatalf("%s: %v", arch, err)
		}
		if f.Machine != machine {
			t.Errorf("%s binary is for %v", arch, f.Machine)
		}
		for _, p := range f.Progs {
			if p.Type == elf.PT_INTERP || p.Type == elf.PT_DYNAMIC {
				t.Errorf("%s binary is dynamically linked (%v)", arch, p.Type)
			}
		}
		f.Close()
	}
	// The native one runs and reports what the script gave it.
	native := filepath.Join(dir, "junction-amd64")
	if b, err := exec.Command(native, "version").CombinedOutput(); err == nil {
		if !strings.Contains(string(b), "junction v0.0.0-test") || !strings.Contains(string(b), "commit 0123abc") {
			t.Errorf("junction version printed %q", b)
		}
	} else if !errors.Is(err, exec.ErrNotFound) && !strings.Contains(err.Error(), "exec format error") {
		t.Errorf("junction version: %v\n%s", err, b)
	}
}

// TestDockerfile checks the image's shape: a build stage that runs the
// build script, an empty base, a non-root user, a volume, a health check
// with the binary itself, and every listener's default port exposed.
func TestDockerfile(t *testing.T) {
	b, err := os.ReadFile("docker/Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	df := string(b)
	var froms []string
	for _, line := range strings.Split(df, "\n") {
		if f, ok := strings.CutPrefix(line, "FROM "); ok {
			froms = append(froms, f)
		}
	}
	if len(froms) != 2 || !strings.Contains(froms[0], " AS build") || froms[1] != "scratch" {
		t.Errorf("stages %q: want a build stage and a scratch image", froms)
	}
	for _, want := range []string{
		"RUN deploy/build-binary.sh ",
		"USER 10001:10001",
		`VOLUME ["/var/lib/junction"]`,
		`CMD ["/usr/local/bin/junction", "healthcheck"`,
		`ENTRYPOINT ["/usr/local/bin/junction"]`,
		"cp deploy/config/container.yaml /out/etc/junction/junction.yaml",
	} {
		if !strings.Contains(df, want) {
			t.Errorf("Dockerfile lacks %q", want)
		}
	}
	m := regexp.MustCompile(`(?m)^EXPOSE (.*)$`).FindStringSubmatch(df)
	if m == nil {
		t.Fatal("Dockerfile exposes no port")
	}
	exposed := strings.Fields(m[1])
	for _, l := range server.KnownListeners(server.Adapters) {
		_, port, _ := strings.Cut(l.Default, ":")
		if !slices.Contains(exposed, port) {
			t.Errorf("listener %s's port %s is not exposed (EXPOSE %s)", l.Name, port, m[1])
		}
	}
	// The container's own configuration is one serve accepts.
	checkConfig(t, "config/container.yaml")
}

// TestSystemdUnit runs systemd-analyze verify on the unit, with ExecStart
// pointing at a binary built here (verify checks that it exists).
func TestSystemdUnit(t *testing.T) {
	analyze := tool(t, "systemd-analyze")
	dir := t.TempDir()
	bin := filepath.Join(dir, "junction")
	build := exec.Command("go", "build", "-o", bin, "../cmd/junction")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if b, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, b)
	}
	unit, err := os.ReadFile("systemd/junction.service")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"DynamicUser=yes", "StateDirectory=junction", "NoNewPrivileges=yes", "ProtectSystem=strict", "LimitNOFILE="} {
		if !bytes.Contains(unit, []byte(want)) {
			t.Errorf("unit lacks %s", want)
		}
	}
	local := filepath.Join(dir, "junction.service")
	if err := os.WriteFile(local, bytes.ReplaceAll(unit, []byte("/usr/local/bin/junction"), []byte(bin)), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(analyze, "verify", local).CombinedOutput()
	if err != nil || len(bytes.TrimSpace(out)) > 0 {
		t.Fatalf("systemd-analyze verify: %v\n%s", err, out)
	}
}

// TestExampleConfigs loads and plans each example the way serve does.
func TestExampleConfigs(t *testing.T) {
	files, err := filepath.Glob("config/*.yaml")
	if err != nil || len(files) < 3 {
		t.Fatalf("example configurations: %v %v", files, err)
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) { checkConfig(t, f) })
	}
}

// checkConfig loads a configuration file and plans its listeners exactly
// as `junction serve` does before it opens anything.
func checkConfig(t *testing.T, path string) {
	t.Helper()
	cfg, err := config.Load(path)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	cfg.ApplyDefaults()
	if err := cfg.Validate(); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	if _, err := server.PlanListeners(cfg, server.Adapters); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

// TestHelmChart lints the chart and renders it with its default values,
// with TLS and users, and as a PostgreSQL HA pair, checking the objects and
// the broker configuration each rendering carries.
func TestHelmChart(t *testing.T) {
	helm := tool(t, "helm", filepath.Join(goBin(), "helm"))
	chart := filepath.Join("helm", "junction")
	if out, err := exec.Command(helm, "lint", "--strict", chart).CombinedOutput(); err != nil {
		t.Fatalf("helm lint: %v\n%s", err, out)
	}
	cases := []struct {
		name      string
		args      []string
		replicas  int
		services  []string // besides the headless one
		volume    bool     // a persistent volume claim for the journal
		usersFile bool
	}{
		{"defaults", nil, 1, []string{"stomp", "mqtt", "ws", "amqp", "openwire", "admin"}, true, false},
		{"tls and users", []string{"--set", "tls.secretName=junction-tls", "--set", "tls.clientAuth=request",
			"--set-string", "auth.usersFile=users: []", "--set", "protocols.ws.enabled=false"},
			1, []string{"stomp", "mqtt", "amqp", "openwire", "admin", "stomp-tls", "mqtt-tls", "wss", "amqp-tls", "openwire-tls", "admin-tls"}, true, true},
		{"postgres ha", []string{"-f", filepath.Join(chart, "values-postgres-ha.yaml")}, 2,
			[]string{"stomp", "mqtt", "ws", "amqp", "openwire", "admin"}, false, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			out, err := exec.Command(helm, append([]string{"template", "demo", chart}, tc.args...)...).CombinedOutput()
			if err != nil {
				t.Fatalf("helm template: %v\n%s", err, out)
			}
			objs := decodeAll(t, out)
			var services []string
			var sts, pdb, cm map[string]any
			for _, o := range objs {
				name := dig(o, "metadata", "name").(string)
				switch o["kind"] {
				case "Service":
					if name != "demo-junction-headless" {
						services = append(services, strings.TrimPrefix(name, "demo-junction-"))
					}
				case "StatefulSet":
					sts = o
				case "PodDisruptionBudget":
					pdb = o
				case "ConfigMap":
					cm = o
				}
			}
			slices.Sort(services)
			want := slices.Clone(tc.services)
			slices.Sort(want)
			if !slices.Equal(services, want) {
				t.Errorf("services %v, want %v", services, want)
			}
			if sts == nil || pdb == nil || cm == nil {
				t.Fatalf("rendered objects lack a StatefulSet, PodDisruptionBudget or ConfigMap")
			}
			if r := dig(sts, "spec", "replicas"); r != tc.replicas {
				t.Errorf("replicas %v, want %d", r, tc.replicas)
			}
			_, hasClaims := dig(sts, "spec").(map[string]any)["volumeClaimTemplates"]
			if hasClaims != tc.volume {
				t.Errorf("volume claim templates: %v, want %v", hasClaims, tc.volume)
			}
			container := dig(sts, "spec", "template", "spec", "containers").([]any)[0].(map[string]any)
			for _, probe := range []string{"startupProbe", "livenessProbe", "readinessProbe"} {
				if _, ok := container[probe]; !ok {
					t.Errorf("container has no %s", probe)
				}
			}
			// The configuration the chart renders is one serve accepts.
			file := filepath.Join(t.TempDir(), "junction.yaml")
			cfgText := dig(cm, "data").(map[string]any)["junction.yaml"].(string)
			if err := os.WriteFile(file, []byte(cfgText), 0o600); err != nil {
				t.Fatal(err)
			}
			if tc.usersFile != strings.Contains(cfgText, "users-file: /etc/junction/users/users.yaml") {
				t.Errorf("users file in the configuration: want %v\n%s", tc.usersFile, cfgText)
			}
			checkConfig(t, file)
		})
	}
	// Values that cannot work are refused at render time, with the reason.
	for _, bad := range [][]string{
		{"--set", "replicas=2"},
		{"--set", "ha.enabled=true"},
		{"--set", "store.type=postgres"},
	} {
		out, err := exec.Command(helm, append([]string{"template", "demo", chart}, bad...)...).CombinedOutput()
		if err == nil {
			t.Errorf("helm template %v rendered:\n%.300s", bad, out)
		}
	}
}

func goBin() string {
	out, err := exec.Command("go", "env", "GOPATH").Output()
	if err != nil {
		return ""
	}
	return filepath.Join(strings.TrimSpace(string(out)), "bin")
}

func decodeAll(t *testing.T, b []byte) []map[string]any {
	t.Helper()
	dec := yaml.NewDecoder(bytes.NewReader(b))
	var objs []map[string]any
	for {
		var o map[string]any
		err := dec.Decode(&o)
		if errors.Is(err, io.EOF) {
			return objs
		}
		if err != nil {
			t.Fatalf("rendered YAML: %v", err)
		}
		if o != nil {
			objs = append(objs, o)
		}
	}
}

// dig walks nested maps by key.
func dig(o map[string]any, keys ...string) any {
	var v any = o
	for _, k := range keys {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[k]
	}
	return v
}
