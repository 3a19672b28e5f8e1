package main

import (
	"github.com/junctionmq/junction/protocols/access"
	"github.com/junctionmq/junction/protocols/transport"
)

// TEMPORARY until protocols/mqtt lands (tracked by the lead).
func registerMQTT(rb *runningBroker, gate *access.Gate, ws *transport.WebSocket) error {
	return nil
}

func mqttListeners(rb *runningBroker) []listenerSpec { return nil }
