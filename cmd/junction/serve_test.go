package main

import (
	"errors"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/junctionmq/junction/config"
	"github.com/junctionmq/junction/server"
)

// runServe runs `junction serve` with args; every case here fails before
// the broker would start.
func runServe(t *testing.T, args ...string) error {
	t.Helper()
	root := newRootCmd()
	root.SetArgs(append([]string{"serve"}, args...))
	root.SetOut(&strings.Builder{})
	root.SetErr(&strings.Builder{})
	return root.Execute()
}

// TestServeRefusesBeforeTheJournal: listener mistakes on the command line
// and in the file fail `serve` with a clear error before the data folder
// is created.
func TestServeRefusesBeforeTheJournal(t *testing.T) {
	// Every listener the adapters register (and admin), turned off three
	// ways: by its own flag, by --listen, and by the file with one flag.
	var flagsOff, listenOff []string
	file := "listeners:\n"
	plain := []string{}
	for _, l := range server.KnownListeners(server.Adapters) {
		if l.TLS {
			continue // off anyway without tls:
		}
		plain = append(plain, l.Name)
	}
	for _, n := range plain {
		flagsOff = append(flagsOff, "--"+n, "off")
		listenOff = append(listenOff, "--listen", n+"=off")
		if n != "mqtt" {
			file += "  " + n + ": off\n"
		}
	}
	cfgFile := filepath.Join(t.TempDir(), "junction.yaml")
	if err := os.WriteFile(cfgFile, []byte(file), 0o600); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		args []string
		want string
	}{
		{"every listener off by the old flags", flagsOff, "every listener is off"},
		{"every listener off by --listen", listenOff, "every listener is off"},
		{"every listener off by file and flag", []string{"--config", cfgFile, "--listen", "mqtt=off"}, "every listener is off"},
		{"unknown listener", []string{"--listen", "nosuch=127.0.0.1:5672"}, `unknown listener "nosuch"`},
		{"--listen without =", []string{"--listen", "stomp"}, "want NAME=ADDR"},
		{"conflicting values", []string{"--stomp", "127.0.0.1:1", "--listen", "stomp=127.0.0.1:2"}, "given twice"},
		{"bad address", []string{"--mqtt", "1883"}, `listener mqtt: "1883" is not host:port`},
		{"tls listener without tls", []string{"--listen", "wss=127.0.0.1:0"}, "listener wss needs tls.cert-file"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			data := filepath.Join(t.TempDir(), "data")
			err := runServe(t, append([]string{"--data", data}, tc.args...)...)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("serve %v: err = %v, want one mentioning %q", tc.args, err, tc.want)
			}
			if _, serr := os.Stat(data); !errors.Is(serr, os.ErrNotExist) {
				t.Errorf("data folder exists after the refusal (stat: %v)", serr)
			}
		})
	}
}

// TestServeListenerFlags: the per-listener flags and --listen both land in
// the configuration's listeners, over the file's.
func TestServeListenerFlags(t *testing.T) {
	cfgFile := filepath.Join(t.TempDir(), "junction.yaml")
	if err := os.WriteFile(cfgFile, []byte("listeners:\n  stomp: 127.0.0.1:1000\n  mqtt: 127.0.0.1:1001\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd, f := serveCommand()
	if err := cmd.ParseFlags([]string{"--config", cfgFile, "--mqtt", "off", "--listen", "ws=0.0.0.0:9000", "--listen", "stomp=127.0.0.1:2000"}); err != nil {
		t.Fatal(err)
	}
	cfg, err := loadServeConfig(*f)
	if err != nil {
		t.Fatal(err)
	}
	want := config.Listeners{"stomp": "127.0.0.1:2000", "mqtt": "off", "ws": "0.0.0.0:9000"}
	if !maps.Equal(cfg.Listeners, want) {
		t.Fatalf("listeners = %v, want %v", cfg.Listeners, want)
	}
}
