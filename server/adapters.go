package server

import (
	"github.com/junctionmq/junction/protocols/adapter"
	"github.com/junctionmq/junction/protocols/amqp"
	"github.com/junctionmq/junction/protocols/mqtt"
	"github.com/junctionmq/junction/protocols/openwire"
	"github.com/junctionmq/junction/protocols/stomp"
)

// Adapters are the protocols `junction serve` speaks, in the order their
// listeners open and their WebSocket subprotocols are registered. Adding a
// protocol is its own package and one line here.
var Adapters = []adapter.Registration{
	stomp.Adapter,
	mqtt.Adapter,
	amqp.Adapter,
	openwire.Adapter,
}
