package transport

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// benchWS returns the server side of one WebSocket connection and the
// client, connected over loopback.
func benchWS(b *testing.B, register func(*WebSocket, Handler) error, proto string) (net.Conn, *websocket.Conn) {
	b.Helper()
	srv := newTestServer(b, nil)
	conns := make(chan net.Conn, 1)
	release := make(chan struct{})
	b.Cleanup(func() { close(release) })
	ws := NewWebSocket(discardLogger())
	if err := register(ws, HandlerFunc(func(ctx context.Context, c net.Conn) {
		conns <- c
		select {
		case <-release:
		case <-ctx.Done():
		}
	})); err != nil {
		b.Fatal(err)
	}
	addr := srv.serveWS("bench", nil, ws)
	client := newWSClient(b, nil).mustDial(b, "ws://"+addr, proto)
	client.SetReadLimit(-1)
	return recv(b, conns, "server conn"), client
}

func BenchmarkWebSocketConnWrite(b *testing.B) {
	for _, size := range []int{64, 1024, 16 << 10} {
		for _, mode := range []struct {
			name     string
			register func(*WebSocket, Handler) error
			proto    string
		}{
			{"binary", (*WebSocket).HandleMQTT, SubprotocolMQTT},
			{"text", (*WebSocket).HandleSTOMP, SubprotocolSTOMP12},
		} {
			b.Run(fmt.Sprintf("%s/%dB", mode.name, size), func(b *testing.B) {
				server, client := benchWS(b, mode.register, mode.proto)
				// Drain on the client side without allocating per message.
				drained := make(chan error, 1)
				go func() {
					buf := make([]byte, 64<<10)
					for {
						_, r, err := client.Reader(context.Background())
						if err != nil {
							drained <- err
							return
						}
						if _, err := io.CopyBuffer(io.Discard, r, buf); err != nil {
							drained <- err
							return
						}
					}
				}()
				msg := bytes.Repeat([]byte("a"), size)
				b.SetBytes(int64(size))
				b.ReportAllocs()
				b.ResetTimer()
				for range b.N {
					if _, err := server.Write(msg); err != nil {
						b.Fatal(err)
					}
				}
				b.StopTimer()
				_ = client.CloseNow()
				<-drained
			})
		}
	}
}

func BenchmarkWebSocketConnRead(b *testing.B) {
	for _, size := range []int{64, 1024, 16 << 10} {
		b.Run(fmt.Sprintf("%dB", size), func(b *testing.B) {
			server, client := benchWS(b, (*WebSocket).HandleMQTT, SubprotocolMQTT)
			msg := bytes.Repeat([]byte("a"), size)
			sent := make(chan error, 1)
			b.SetBytes(int64(size))
			b.ReportAllocs()
			b.ResetTimer()
			go func() {
				for range b.N {
					if err := client.Write(context.Background(), websocket.MessageBinary, msg); err != nil {
						sent <- err
						return
					}
				}
				sent <- nil
			}()
			buf := make([]byte, 32<<10)
			for total := b.N * size; total > 0; {
				n, err := server.Read(buf)
				if err != nil {
					b.Fatal(err)
				}
				total -= n
			}
			b.StopTimer()
			if err := <-sent; err != nil {
				b.Fatal(err)
			}
		})
	}
}

// BenchmarkDeadlineSet measures the cost an adapter pays for moving
// the read deadline before each read, as heart-beat handling does.
func BenchmarkDeadlineSet(b *testing.B) {
	var d deadline
	d.abort = func() {}
	b.ReportAllocs()
	for range b.N {
		d.set(time.Now().Add(time.Minute))
		if d.begin() {
			d.end()
		}
	}
	d.stop()
}
