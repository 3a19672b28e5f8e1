package mqtt

import "github.com/junctionmq/junction/storage"

// The adapter's own store records. Their numbers are what every journal
// since the first MQTT release holds, so they never change.
var (
	// kindSession is a persistent session, keyed by client id.
	kindSession = storage.RegisterKind(3, "mqtt.session")
	// kindRetained is a retained message, keyed by topic.
	kindRetained = storage.RegisterKind(4, "mqtt.retained")
)
