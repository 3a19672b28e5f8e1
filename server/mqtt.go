package server

import (
	"net"

	"github.com/junctionmq/junction/protocols/access"
	"github.com/junctionmq/junction/protocols/mqtt"
	"github.com/junctionmq/junction/protocols/transport"
)

// newMQTT starts the MQTT adapter, registers it on the WebSocket listener
// (subprotocol mqtt) and returns the function serving its TCP listeners.
func newMQTT(s *Server, gate *access.Gate, ws *transport.WebSocket) (func(name string, ln net.Listener) error, error) {
	m := mqtt.NewServer(mqtt.Options{Broker: s.Core, Gate: gate, Logger: s.log})
	s.MQTT = m
	if err := ws.HandleMQTT(m); err != nil {
		return nil, err
	}
	s.reports = append(s.reports, func() {
		st := m.Stats()
		s.log.Info("mqtt state", "connections", st.Connections, "sessions", st.Sessions, "retained", st.Retained, "in-flight", st.InFlight)
		m.Close()
	})
	return func(name string, ln net.Listener) error { return s.srv.Serve(name, ln, m) }, nil
}
