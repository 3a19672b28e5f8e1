package openwire

import "testing"

func TestMatchTopic(t *testing.T) {
	for _, tc := range []struct {
		pattern, name string
		want          bool
	}{
		{"ActiveMQ.Advisory.Connection", "ActiveMQ.Advisory.Connection", true},
		{"ActiveMQ.Advisory.Connection", "ActiveMQ.Advisory.Connections", false},
		{"ActiveMQ.Advisory.Consumer.Queue.>", "ActiveMQ.Advisory.Consumer.Queue.a.b", true},
		{"ActiveMQ.Advisory.Consumer.*.orders", "ActiveMQ.Advisory.Consumer.Topic.orders", true},
		{"ActiveMQ.Advisory.Consumer.*.orders", "ActiveMQ.Advisory.Consumer.Topic.orders.x", false},
		{"ActiveMQ.Advisory.Consumer.Queue.*", "ActiveMQ.Advisory.Consumer.Queue", false},
		{"ActiveMQ.Advisory.>", "ActiveMQ.Advisory.Connection", true},
	} {
		if got := matchTopic(tc.pattern, tc.name); got != tc.want {
			t.Errorf("matchTopic(%q, %q) = %v, want %v", tc.pattern, tc.name, got, tc.want)
		}
	}
}
