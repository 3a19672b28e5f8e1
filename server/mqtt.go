package server

import (
	"net"

	"github.com/junctionmq/junction/protocols/access"
	"github.com/junctionmq/junction/protocols/transport"
)

// TEMPORARY until protocols/mqtt lands (tracked by the lead).
func newMQTT(s *Server, gate *access.Gate, ws *transport.WebSocket) (func(name string, ln net.Listener) error, error) {
	return nil, nil
}
