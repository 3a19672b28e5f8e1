package frame

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
)

// fr builds a frame from a command, a body and key/value pairs.
func fr(cmd, body string, kv ...string) *Frame {
	f := &Frame{Command: cmd}
	if body != "" {
		f.Body = []byte(body)
	}
	for i := 0; i+1 < len(kv); i += 2 {
		f.Headers = append(f.Headers, Header{kv[i], kv[i+1]})
	}
	return f
}

func equalFrame(a, b *Frame) bool {
	if a.Command != b.Command || !bytes.Equal(a.Body, b.Body) || len(a.Headers) != len(b.Headers) {
		return false
	}
	for i := range a.Headers {
		if a.Headers[i] != b.Headers[i] {
			return false
		}
	}
	return true
}

// dump renders a frame for failure messages.
func dump(f *Frame) string {
	if f == nil {
		return "<nil>"
	}
	var sb strings.Builder
	fmt.Fprintf(&sb, "%q{", f.Command)
	for _, h := range f.Headers {
		fmt.Fprintf(&sb, "%q:%q ", h.Key, h.Value)
	}
	fmt.Fprintf(&sb, "} body=%q", f.Body)
	return sb.String()
}

// withoutContentLength returns a copy of f without content-length headers,
// which the encoder recomputes.
func withoutContentLength(f *Frame) *Frame {
	g := &Frame{Command: f.Command, Body: f.Body}
	for _, h := range f.Headers {
		if h.Key != HdrContentLength {
			g.Headers = append(g.Headers, h)
		}
	}
	return g
}

// decodeAll reads frames until an error; it returns the frames, the number of
// heart-beat reports and the final error (io.EOF on a clean end).
func decodeAll(rd io.Reader, v Version, lim Limits) ([]*Frame, int, error) {
	r := NewReader(rd, lim)
	r.SetVersion(v)
	var frames []*Frame
	hbs := 0
	for {
		f := new(Frame)
		hb, err := r.ReadFrame(f)
		if err != nil {
			return frames, hbs, err
		}
		if hb {
			hbs++
			continue
		}
		frames = append(frames, f)
	}
}

// chunkReader returns one chunk per Read call, then io.EOF.
type chunkReader struct {
	chunks [][]byte
}

func (c *chunkReader) Read(p []byte) (int, error) {
	for len(c.chunks) > 0 && len(c.chunks[0]) == 0 {
		c.chunks = c.chunks[1:]
	}
	if len(c.chunks) == 0 {
		return 0, io.EOF
	}
	n := copy(p, c.chunks[0])
	c.chunks[0] = c.chunks[0][n:]
	return n, nil
}

func chunks(ss ...string) *chunkReader {
	c := &chunkReader{}
	for _, s := range ss {
		c.chunks = append(c.chunks, []byte(s))
	}
	return c
}

// countingReader serves prefix and then an endless run of fill bytes, and
// counts what it served, to show a limit stops reading.
type countingReader struct {
	prefix []byte
	fill   byte
	served int
}

func (c *countingReader) Read(p []byte) (int, error) {
	n := copy(p, c.prefix)
	c.prefix = c.prefix[n:]
	for i := n; i < len(p); i++ {
		p[i] = c.fill
	}
	c.served += len(p)
	return len(p), nil
}

// errAfterReader returns the chunks and then err forever.
type errAfterReader struct {
	chunkReader
	err error
}

func (e *errAfterReader) Read(p []byte) (int, error) {
	n, err := e.chunkReader.Read(p)
	if err == io.EOF {
		return 0, e.err
	}
	return n, err
}

var errTimeout = errors.New("i/o timeout (test)")

func mustCategory(t *testing.T, err, want error) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Fatalf("error = %v, want category %v", err, want)
	}
	var pe *ProtocolError
	if !errors.As(err, &pe) {
		t.Fatalf("error %v is not a *ProtocolError", err)
	}
	if pe.Msg == "" || !strings.HasPrefix(err.Error(), "stomp: ") {
		t.Fatalf("error %q: want a non-empty Msg and a stomp: prefix", err)
	}
}
