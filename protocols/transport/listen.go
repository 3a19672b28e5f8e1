package transport

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"time"
)

// TCP keep-alive for accepted connections. Protocol heart-beats are the
// primary liveness check, but STOMP without heart-beats and MQTT with
// keep-alive 0 are legal, and a client behind a vanished NAT would
// otherwise hold its session forever: with these values a dead peer is
// detected after about a minute.
const (
	keepAliveIdle     = 30 * time.Second
	keepAliveInterval = 10 * time.Second
	keepAliveCount    = 3
)

// ListenTCP listens on addr ("host:port") with TCP keep-alive enabled on
// accepted connections (TCP_NODELAY is Go's default). With a non-nil
// tlsConf the listener yields TLS connections; Server.Serve completes their
// handshake before calling the handler, and Server.ServeWebSocket serves
// them as wss. tlsConf is used as is, not cloned, so GetCertificate-based
// certificate reloading works; it must not advertise "h2" in NextProtos
// for a WebSocket listener.
func ListenTCP(addr string, tlsConf *tls.Config) (net.Listener, error) {
	if tlsConf != nil && len(tlsConf.Certificates) == 0 && tlsConf.GetCertificate == nil && tlsConf.GetConfigForClient == nil {
		return nil, errors.New("transport: listen on " + addr + ": TLS config has no certificate")
	}
	lc := net.ListenConfig{
		KeepAliveConfig: net.KeepAliveConfig{
			Enable:   true,
			Idle:     keepAliveIdle,
			Interval: keepAliveInterval,
			Count:    keepAliveCount,
		},
	}
	ln, err := lc.Listen(context.Background(), "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("transport: listen on %s: %w", addr, err)
	}
	if tlsConf != nil {
		ln = tls.NewListener(ln, tlsConf)
	}
	return ln, nil
}
