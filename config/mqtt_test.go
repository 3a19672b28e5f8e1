package config

import (
	"strings"
	"testing"
	"time"
)

// TestMQTTSection: mqtt.max-keep-alive reads as a duration and must be
// whole seconds that MQTT's 16-bit keep-alive can carry.
func TestMQTTSection(t *testing.T) {
	c, err := Load(write(t, "mqtt:\n  max-keep-alive: 60s\n"))
	if err != nil {
		t.Fatal(err)
	}
	c.ApplyDefaults()
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	if c.MQTT.MaxKeepAlive != time.Minute {
		t.Fatalf("max-keep-alive %v, want 1m", c.MQTT.MaxKeepAlive)
	}
	for _, bad := range []string{"1500ms", "-1s", "65536s"} {
		c, err := Load(write(t, "mqtt:\n  max-keep-alive: "+bad+"\n"))
		if err != nil {
			t.Fatal(err)
		}
		c.ApplyDefaults()
		if err := c.Validate(); err == nil || !strings.Contains(err.Error(), "mqtt.max-keep-alive") {
			t.Errorf("%s: %v, want an mqtt.max-keep-alive error", bad, err)
		}
	}
	if _, err := Load(write(t, "mqtt:\n  max-keep-alive: soon\n")); err == nil {
		t.Error("max-keep-alive: soon was accepted")
	}
}
