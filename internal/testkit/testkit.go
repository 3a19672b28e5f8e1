// Package testkit holds what the tests of several packages need alike: a
// log sink safe for concurrent handlers, and waits on the real clients'
// deliveries that fail the test instead of hanging.
package testkit

import (
	"bytes"
	"sync"
	"testing"
	"time"

	"github.com/go-stomp/stomp/v3"
)

// LogBuffer collects log output written from many goroutines.
type LogBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *LogBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// String is everything written so far.
func (b *LogBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// RecvSTOMP waits up to within for the next message of a go-stomp
// subscription and fails the test if none comes, the subscription closes
// or the message carries an error.
func RecvSTOMP(t testing.TB, sub *stomp.Subscription, within time.Duration) *stomp.Message {
	t.Helper()
	select {
	case m, ok := <-sub.C:
		if !ok {
			t.Fatalf("subscription %s closed", sub.Destination())
		}
		if m.Err != nil {
			t.Fatalf("subscription %s: %v", sub.Destination(), m.Err)
		}
		return m
	case <-time.After(within):
		t.Fatalf("no message on %s within %v", sub.Destination(), within)
	}
	return nil
}

// QuietLogger keeps go-stomp from printing to the test output: it logs every
// ERROR frame, and many tests provoke them on purpose. Use it with
// stomp.ConnOpt.Logger(testkit.QuietLogger{}).
type QuietLogger struct{}

func (QuietLogger) Debugf(string, ...any)   {}
func (QuietLogger) Infof(string, ...any)    {}
func (QuietLogger) Warningf(string, ...any) {}
func (QuietLogger) Errorf(string, ...any)   {}
func (QuietLogger) Debug(string)            {}
func (QuietLogger) Info(string)             {}
func (QuietLogger) Warning(string)          {}
func (QuietLogger) Error(string)            {}
