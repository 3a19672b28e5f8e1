package transport

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"

	"github.com/coder/websocket"
)

// WebSocket subprotocols of the adapters. stomp.js offers all three STOMP
// ones (the STOMP version itself is negotiated by CONNECT); MQTT.js offers
// "mqtt" for 3.1.1/5.0 and "mqttv3.1" for 3.1.
const (
	SubprotocolSTOMP10 = "v10.stomp"
	SubprotocolSTOMP11 = "v11.stomp"
	SubprotocolSTOMP12 = "v12.stomp"
	SubprotocolMQTT    = "mqtt"
	SubprotocolMQTT31  = "mqttv3.1"
)

// MessageType is how a WebSocketConn sends the bytes of a Write.
type MessageType int

const (
	// Text sends text messages, as text-based protocols (STOMP) expect;
	// a Write that is not valid UTF-8 goes out as a binary message, since
	// browsers fail the connection on a text message that is not UTF-8.
	Text MessageType = iota + 1
	// Binary sends binary messages (MQTT, AMQP, OpenWire).
	Binary
)

// WebSocket dispatches WebSocket connections to handlers by subprotocol.
// Register handlers with Handle before serving it with Server.ServeWebSocket;
// registering later is safe and applies to later connections.
type WebSocket struct {
	log *slog.Logger

	mu      sync.RWMutex
	protos  map[string]*registration // by lower-case subprotocol
	names   []string                 // registered subprotocols, in order
	origins []string                 // nil: any origin
}

type registration struct {
	h     Handler
	text  bool
	proto string // canonical spelling
}

// NewWebSocket returns an empty WebSocket dispatcher that logs rejected
// handshakes at debug level to logger (slog.Default() if nil). Any Origin
// is allowed until SetOriginPatterns says otherwise.
func NewWebSocket(logger *slog.Logger) *WebSocket {
	if logger == nil {
		logger = slog.Default()
	}
	return &WebSocket{log: logger, protos: make(map[string]*registration)}
}

// Handle routes connections that negotiate one of subprotocols to h, whose
// writes go out as messages of type typ. Subprotocols match
// case-insensitively; each may be registered once.
func (w *WebSocket) Handle(h Handler, typ MessageType, subprotocols ...string) error {
	if h == nil {
		return errors.New("transport: WebSocket handler is nil")
	}
	if typ != Text && typ != Binary {
		return fmt.Errorf("transport: invalid WebSocket message type %d", typ)
	}
	if len(subprotocols) == 0 {
		return errors.New("transport: WebSocket handler needs at least one subprotocol")
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	for i, p := range subprotocols {
		if !validToken(p) {
			return fmt.Errorf("transport: invalid WebSocket subprotocol %q", p)
		}
		key := strings.ToLower(p)
		if w.protos[key] != nil {
			return fmt.Errorf("transport: WebSocket subprotocol %q is already registered", p)
		}
		for _, q := range subprotocols[:i] {
			if strings.EqualFold(p, q) {
				return fmt.Errorf("transport: WebSocket subprotocol %q listed twice", p)
			}
		}
	}
	for _, p := range subprotocols {
		w.protos[strings.ToLower(p)] = &registration{h: h, text: typ == Text, proto: p}
		w.names = append(w.names, p)
	}
	return nil
}

// HandleSTOMP routes the STOMP subprotocols (v10.stomp, v11.stomp,
// v12.stomp) to h with text messages.
func (w *WebSocket) HandleSTOMP(h Handler) error {
	return w.Handle(h, Text, SubprotocolSTOMP12, SubprotocolSTOMP11, SubprotocolSTOMP10)
}

// HandleMQTT routes the MQTT subprotocols (mqtt, mqttv3.1) to h with binary
// messages.
func (w *WebSocket) HandleMQTT(h Handler) error {
	return w.Handle(h, Binary, SubprotocolMQTT, SubprotocolMQTT31)
}

// SetOriginPatterns restricts browser clients to pages whose Origin host
// matches one of patterns (path.Match syntax, e.g. "*.example.com"; a
// pattern with "://" matches "scheme://host"); the request's own host is
// always allowed. With no patterns any Origin is allowed again.
func (w *WebSocket) SetOriginPatterns(patterns ...string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(patterns) == 0 {
		w.origins = nil
		return
	}
	w.origins = append([]string(nil), patterns...)
}

func (w *WebSocket) acceptOptions(proto string) *websocket.AcceptOptions {
	w.mu.RLock()
	origins := w.origins
	w.mu.RUnlock()
	return &websocket.AcceptOptions{
		// Offer only the protocol chosen by match: the library otherwise
		// picks by server preference, not by the client's order.
		Subprotocols:       []string{proto},
		InsecureSkipVerify: origins == nil,
		OriginPatterns:     origins,
		// Compression costs CPU per message and rarely pays for small
		// broker frames; clients cope without it.
		CompressionMode: websocket.CompressionDisabled,
	}
}

// match returns the registration for the first subprotocol offered in the
// Sec-WebSocket-Protocol header values (the client's preference order),
// and that subprotocol as the client spelled it.
func (w *WebSocket) match(values []string) (*registration, string) {
	w.mu.RLock()
	defer w.mu.RUnlock()
	for _, v := range values {
		for v != "" {
			var tok string
			tok, v, _ = strings.Cut(v, ",")
			tok = strings.Trim(tok, " \t")
			if tok == "" {
				continue
			}
			if reg := w.lookup(tok); reg != nil {
				return reg, tok
			}
		}
	}
	return nil, ""
}

// lookup finds tok without allocating for the usual lower-case offers.
func (w *WebSocket) lookup(tok string) *registration {
	if reg := w.protos[tok]; reg != nil {
		return reg
	}
	for i := 0; i < len(tok); i++ {
		if c := tok[i]; 'A' <= c && c <= 'Z' {
			return w.protos[strings.ToLower(tok)]
		}
	}
	return nil
}

func (w *WebSocket) supported() string {
	w.mu.RLock()
	defer w.mu.RUnlock()
	if len(w.names) == 0 {
		return "(none registered)"
	}
	return strings.Join(w.names, ", ")
}

// validToken reports whether p is an RFC 7230 token, as RFC 6455 requires
// of a subprotocol name.
func validToken(p string) bool {
	if p == "" {
		return false
	}
	for i := 0; i < len(p); i++ {
		c := p[i]
		if c <= ' ' || c >= 0x7f || strings.IndexByte(`"(),/:;<=>?@[\]{}`, c) >= 0 {
			return false
		}
	}
	return true
}

// headerHasToken reports whether a comma-separated header contains token,
// case-insensitively.
func headerHasToken(h http.Header, key, token string) bool {
	for _, v := range h.Values(key) {
		for v != "" {
			var t string
			t, v, _ = strings.Cut(v, ",")
			if strings.EqualFold(strings.Trim(t, " \t"), token) {
				return true
			}
		}
	}
	return false
}
