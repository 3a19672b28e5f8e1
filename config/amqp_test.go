package config

import (
	"strings"
	"testing"
	"time"
)

// TestAMQPSection: the amqp section reads sizes, counts and durations, and
// every value out of its range is reported by name.
func TestAMQPSection(t *testing.T) {
	c, err := Load(write(t, "amqp:\n  max-frame-size: 64KiB\n  channel-max: 7\n  handle-max: 31\n  idle-timeout: 90s\n  link-credit: 20\n  session-window: 100\n"))
	if err != nil {
		t.Fatal(err)
	}
	c.ApplyDefaults()
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	want := AMQP{MaxFrameSize: 64 << 10, ChannelMax: 7, HandleMax: 31, IdleTimeout: 90 * time.Second, LinkCredit: 20, SessionWindow: 100}
	if c.AMQP != want {
		t.Fatalf("amqp %+v, want %+v", c.AMQP, want)
	}
	for _, bad := range []struct{ yaml, key string }{
		{"max-frame-size: 511", "amqp.max-frame-size"},
		{"max-frame-size: 17MiB", "amqp.max-frame-size"},
		{"channel-max: 65536", "amqp.channel-max"},
		{"handle-max: -1", "amqp.handle-max"},
		{"link-credit: 70000", "amqp.link-credit"},
		{"session-window: -5", "amqp.session-window"},
		{"idle-timeout: 500ms", "amqp.idle-timeout"},
		{"idle-timeout: 2h", "amqp.idle-timeout"},
		{"idle-timeout: 1500100us", "amqp.idle-timeout"},
	} {
		c, err := Load(write(t, "amqp:\n  "+bad.yaml+"\n"))
		if err != nil {
			t.Fatalf("%s: %v", bad.yaml, err)
		}
		c.ApplyDefaults()
		if err := c.Validate(); err == nil || !strings.Contains(err.Error(), bad.key) {
			t.Errorf("%s: %v, want an %s error", bad.yaml, err, bad.key)
		}
	}
	_, err = Load(write(t, "amqp:\n  max-frame-sise: 1MiB\n"))
	if err == nil || !strings.Contains(err.Error(), `unknown key "max-frame-sise" in amqp; valid keys: channel-max, handle-max, idle-timeout, link-credit, max-frame-size, session-window`) {
		t.Fatalf("unknown key: %v", err)
	}
}
