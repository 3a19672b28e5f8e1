package transport

import (
	"crypto/tls"
	"net"
)

// Subprotocol returns the negotiated WebSocket subprotocol of a connection
// handed to a Handler, or "" if it did not come over WebSocket.
func Subprotocol(c net.Conn) string {
	if wc, ok := c.(*WebSocketConn); ok {
		return wc.Subprotocol()
	}
	return ""
}

// TLSConnectionState returns the TLS state (client certificates, cipher,
// SNI) of a connection handed to a Handler, over TLS or wss; ok is false
// for a plain connection. The handshake is complete before the handler
// runs.
func TLSConnectionState(c net.Conn) (state tls.ConnectionState, ok bool) {
	switch c := c.(type) {
	case *tls.Conn:
		return c.ConnectionState(), true
	case *WebSocketConn:
		return c.ConnectionState()
	}
	return tls.ConnectionState{}, false
}
