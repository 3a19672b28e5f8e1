// Package transport owns the listeners shared by every protocol adapter
// (STOMP, MQTT, later AMQP and OpenWire). An adapter implements one
// interface, [Handler], and receives a [net.Conn] whether its client came
// over plain TCP, TLS, WebSocket or secure WebSocket; framing, sessions and
// protocol errors stay in the adapter.
//
// # Design
//
// A [Server] runs named accept loops: [Server.Serve] for byte-stream
// listeners (from [ListenTCP], optionally TLS) and [Server.ServeWebSocket]
// for HTTP listeners that upgrade to WebSocket. Every connection is
// registered (and the WaitGroup incremented) under the server's lock before
// its goroutine starts, so [Server.Shutdown] can refuse new connections,
// cancel every connection context, close every connection and wait for the
// handlers, bounded by its context. Accept errors other than a closed
// listener (EMFILE, ENFILE, ECONNABORTED, ...) are retried with exponential
// back-off capped at one second, so running out of descriptors degrades
// service instead of spinning or killing the listener.
//
// TLS handshakes run in the connection's goroutine with a deadline, before
// the handler is called, so a handler can read the client certificate with
// [TLSConnectionState] right away and a client that never completes the
// handshake never reaches an adapter.
//
// # Raw connections
//
// On Linux, the plain TCP connections of a [DetachedHandler] are accepted
// straight into this package's own connection type: a non-blocking
// descriptor whose waits go through the package's epoll poller (one-shot
// registrations, armed only by a wait), where an idle connection also parks
// with no goroutine. It implements net.Conn (deadlines included), so
// adapters and decoders do not know the difference; it exists because a
// net.TCPConn and the runtime's poll descriptor cost about 600 bytes of
// every idle connection. TLS and WebSocket connections keep net.Conn. The
// environment variable JUNCTION_NET_CONN=1 turns raw connections off.
//
// # WebSocket
//
// A [WebSocket] maps subprotocols to handlers; the client's offer decides
// which adapter serves it (v10.stomp/v11.stomp/v12.stomp to STOMP,
// mqtt/mqttv3.1 to MQTT), whatever the request path. A client offering no
// registered subprotocol gets HTTP 400 naming the supported ones. Origins
// are not checked by default: a broker authenticates at the protocol level
// (CONNECT credentials), not with cookies, so cross-origin pages gain no
// ambient authority; [WebSocket.SetOriginPatterns] restricts them.
//
// The upgraded connection is a [*WebSocketConn], a net.Conn written for
// this package rather than websocket.NetConn because that one fails the
// connection on the "other" message type: reads accept text and binary
// messages and present them as one byte stream, and each Write becomes one
// message (an adapter that coalesces frames into one Write sends them in one
// message, which STOMP and MQTT over WebSocket both allow). Writes use the
// message type chosen at registration: binary for MQTT; text for STOMP,
// falling back to binary for a payload that is not valid UTF-8, because a
// browser fails the whole connection on a text message that is not UTF-8.
//
// Deadlines on a WebSocketConn behave as on TCP with one difference: a
// deadline that expires while a Read or Write is blocked closes the
// connection (a WebSocket cannot resume after a partially transferred
// frame). Adapters treat a heart-beat or keep-alive timeout as fatal anyway.
// A deadline that expires while no call is in progress only makes the next
// call fail with [os.ErrDeadlineExceeded] until the deadline is moved.
package transport
