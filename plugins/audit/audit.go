// Package audit is the `audit` plugin: a JSON-lines log of security-relevant
// events — logins that succeeded and failed, connections refused, actions
// denied, connections ending — and of operators' management actions, one
// JSON object per line in its own file, apart from the broker's log.
//
//	plugins:
//	  - name: audit
//	    options:
//	      file: audit.log   # relative to the configuration file's folder
//	                        # (or the data folder without one); default
//	                        # <data>/audit.log
package audit

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/junctionmq/junction/core"
	"github.com/junctionmq/junction/plugins"
)

func init() { plugins.Register("audit", New) }

// Options are the plugin's `options:`.
type Options struct {
	File string `yaml:"file"`
}

// Log is the audit plugin. Events are written by one goroutine: callers,
// some of which hold broker locks, only queue them. The queue is large and
// a full one makes callers wait rather than lose a line.
type Log struct {
	path string
	f    *os.File
	ch   chan []byte
	done chan struct{}
	log  *slog.Logger

	closeOnce sync.Once
	mu        sync.RWMutex // guards closed against sends racing Close
	closed    bool
}

// New builds the plugin (the registered Factory).
func New(env plugins.Env) (any, error) {
	var o Options
	if err := env.Options.Decode(&o); err != nil {
		return nil, fmt.Errorf("options: %w", err)
	}
	path := o.File
	if path == "" {
		path = filepath.Join(env.DataDir, "audit.log")
	} else if !filepath.IsAbs(path) {
		base := env.Dir
		if base == "" {
			base = env.DataDir
		}
		path = filepath.Join(base, path)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
		return nil, fmt.Errorf("audit log folder: %w", err)
	}
	// 0600: the log names users and their addresses.
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("opening the audit log: %w", err)
	}
	l := &Log{path: path, f: f, ch: make(chan []byte, 8192), done: make(chan struct{}), log: env.Logger}
	go l.writer()
	env.Logger.Info("audit log", "file", path)
	return l, nil
}

// Path is the file the log is written to.
func (l *Log) Path() string { return l.path }

func (l *Log) writer() {
	defer close(l.done)
	w := bufio.NewWriterSize(l.f, 64<<10)
	for line := range l.ch {
		w.Write(line)
		// Flush when nothing else is waiting: a burst is one write, and a
		// lone line reaches the file at once.
		if len(l.ch) == 0 {
			if err := w.Flush(); err != nil {
				l.log.Error("audit log write failed", "err", err)
			}
		}
	}
	if err := w.Flush(); err != nil {
		l.log.Error("audit log write failed", "err", err)
	}
}

// event writes one line: time and event first, then the fields.
func (l *Log) event(t time.Time, event string, fields map[string]any) {
	if t.IsZero() {
		t = time.Now()
	}
	fields["time"] = t.UTC().Format(time.RFC3339Nano)
	fields["event"] = event
	line, err := json.Marshal(fields)
	if err != nil {
		// An attribute that does not encode: keep the event, say so.
		line, _ = json.Marshal(map[string]any{"time": fields["time"], "event": event, "error": err.Error()})
	}
	line = append(line, '\n')
	l.mu.RLock()
	defer l.mu.RUnlock()
	if l.closed {
		return
	}
	l.ch <- line
}

// ConnectionCreated records a successful login.
func (l *Log) ConnectionCreated(c core.ConnectionInfo) {
	l.event(c.Since, "login", connFields(c))
}

// ConnectionDestroyed records the end of a connection that logged in.
func (l *Log) ConnectionDestroyed(c core.ConnectionInfo) {
	f := connFields(c)
	f["duration_ms"] = time.Since(c.Since).Milliseconds()
	l.event(time.Time{}, "logout", f)
}

func connFields(c core.ConnectionInfo) map[string]any {
	return map[string]any{"connection": c.ID, "protocol": c.Protocol, "user": c.User,
		"anonymous": c.User == "", "remote": c.Remote, "tls": c.TLS}
}

// securityEvents names the security manager's audit lines.
var securityEvents = map[string]string{
	"authentication failed": "login.failed",
	"authorization denied":  "access.denied",
	"connection refused":    "connection.refused",
}

// SecurityEvent records a failed login, a refused connection or a denial.
func (l *Log) SecurityEvent(e plugins.SecurityEvent) {
	// A copy: other plugins see the same event.
	f := make(map[string]any, len(e.Attrs)+3)
	for k, v := range e.Attrs {
		f[k] = v
	}
	name, ok := securityEvents[e.Event]
	if !ok {
		name = "security"
		f["message"] = e.Event
	}
	l.event(e.Time, name, f)
}

// ManagementAction records an operator's action.
func (l *Log) ManagementAction(a plugins.ManagementAction) {
	f := map[string]any{"action": a.Name, "user": a.User, "remote": a.Remote, "target": a.Target, "result": a.Result}
	if len(a.Params) > 0 {
		f["params"] = a.Params
	}
	if a.Error != "" {
		f["error"] = a.Error
	}
	l.event(a.Time, "management", f)
}

// Close writes what is queued and closes the file.
func (l *Log) Close() error {
	var err error
	l.closeOnce.Do(func() {
		l.mu.Lock()
		l.closed = true
		close(l.ch)
		l.mu.Unlock()
		<-l.done
		err = errors.Join(l.f.Sync(), l.f.Close())
	})
	return err
}
