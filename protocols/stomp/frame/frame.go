// Package frame encodes and decodes STOMP 1.0, 1.1 and 1.2 frames.
//
// It knows nothing of the broker: the STOMP server adapter and the junction CLI
// client both build on it. Decoding is bounded by Limits before anything is
// buffered, and both directions are written so that the per-frame hot paths do
// not allocate more than the data the caller keeps (see Reader.ReadFrame and
// Encoder).
//
// The decoder is strict where a mistake would desynchronise the stream or
// change meaning (command line, header syntax, escapes, content-length, UTF-8
// in 1.1+) and tolerant where real clients differ harmlessly from the grammar:
// CR LF line ends are accepted in every version (CONNECT arrives before the
// version is known), trailing blanks after the command are ignored, and a
// ':' or a CR inside a 1.2 header value is taken literally. The encoder always
// writes what the strictest peer expects: LF line ends, every escape the
// version defines, and content-length for every non-empty body.
package frame

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Client commands.
const (
	CmdConnect     = "CONNECT"
	CmdStomp       = "STOMP"
	CmdSend        = "SEND"
	CmdSubscribe   = "SUBSCRIBE"
	CmdUnsubscribe = "UNSUBSCRIBE"
	CmdAck         = "ACK"
	CmdNack        = "NACK"
	CmdBegin       = "BEGIN"
	CmdCommit      = "COMMIT"
	CmdAbort       = "ABORT"
	CmdDisconnect  = "DISCONNECT"
)

// Server commands.
const (
	CmdConnected = "CONNECTED"
	CmdMessage   = "MESSAGE"
	CmdReceipt   = "RECEIPT"
	CmdError     = "ERROR"
)

// Standard header names.
const (
	HdrAcceptVersion = "accept-version"
	HdrAck           = "ack"
	HdrContentLength = "content-length"
	HdrContentType   = "content-type"
	HdrDestination   = "destination"
	HdrHeartBeat     = "heart-beat"
	HdrHost          = "host"
	HdrID            = "id"
	HdrLogin         = "login"
	HdrMessage       = "message"
	HdrMessageID     = "message-id"
	HdrPasscode      = "passcode"
	HdrReceipt       = "receipt"
	HdrReceiptID     = "receipt-id"
	HdrServer        = "server"
	HdrSession       = "session"
	HdrSubscription  = "subscription"
	HdrTransaction   = "transaction"
	HdrVersion       = "version"
)

// Heartbeat is the byte sequence a peer sends as a heart-beat: one EOL.
const Heartbeat = "\n"

// Header is one header entry. Keys and values are held decoded (unescaped).
type Header struct {
	Key, Value string
}

// Frame is one STOMP frame. Headers keep their wire order and may repeat a key;
// Get follows STOMP 1.2 and returns the first occurrence.
type Frame struct {
	Command string
	Headers []Header
	Body    []byte
}

// Get returns the value of the first header named key.
func (f *Frame) Get(key string) (string, bool) {
	for i := range f.Headers {
		if f.Headers[i].Key == key {
			return f.Headers[i].Value, true
		}
	}
	return "", false
}

// Set makes key carry exactly value: the first occurrence is overwritten in
// place (keeping header order) and later duplicates are removed; a missing key
// is appended.
func (f *Frame) Set(key, value string) {
	for i := range f.Headers {
		if f.Headers[i].Key == key {
			f.Headers[i].Value = value
			f.Headers = append(f.Headers[:i+1], deleteKey(f.Headers[i+1:], key)...)
			return
		}
	}
	f.Headers = append(f.Headers, Header{key, value})
}

// Add appends a header, even when key is already present.
func (f *Frame) Add(key, value string) {
	f.Headers = append(f.Headers, Header{key, value})
}

// Del removes every header named key.
func (f *Frame) Del(key string) {
	f.Headers = deleteKey(f.Headers, key)
}

// Reset empties f while keeping the Headers backing array for reuse. Body is
// dropped, not truncated, because callers may have handed it on.
func (f *Frame) Reset() {
	f.Command = ""
	clear(f.Headers)
	f.Headers = f.Headers[:0]
	f.Body = nil
}

// deleteKey filters hs in place.
func deleteKey(hs []Header, key string) []Header {
	out := hs[:0]
	for _, h := range hs {
		if h.Key != key {
			out = append(out, h)
		}
	}
	clear(hs[len(out):])
	return out
}

// Version is a STOMP protocol version. The zero value is 1.0, which is also
// what a peer speaks until a CONNECT/CONNECTED exchange negotiates otherwise.
type Version uint8

// Supported versions, in increasing order.
const (
	V1_0 Version = iota
	V1_1
	V1_2
)

// SupportedVersions is the value a server puts in the version header of the
// ERROR frame it sends when negotiation fails.
const SupportedVersions = "1.0,1.1,1.2"

func (v Version) String() string {
	switch v {
	case V1_0:
		return "1.0"
	case V1_1:
		return "1.1"
	case V1_2:
		return "1.2"
	}
	return "Version(" + strconv.Itoa(int(v)) + ")"
}

// Negotiate picks the highest version listed in an accept-version header
// value that this package supports. An empty value (header absent) means the
// client speaks 1.0. ok is false when the client lists no supported version.
func Negotiate(acceptVersion string) (v Version, ok bool) {
	if strings.TrimSpace(acceptVersion) == "" {
		return V1_0, true
	}
	for item := range strings.SplitSeq(acceptVersion, ",") {
		var cand Version
		switch strings.TrimSpace(item) {
		case "1.0":
			cand = V1_0
		case "1.1":
			cand = V1_1
		case "1.2":
			cand = V1_2
		default:
			continue
		}
		if !ok || cand > v {
			v, ok = cand, true
		}
	}
	return v, ok
}

// ParseHeartBeat parses a heart-beat header value "cx,cy" (milliseconds). An
// empty value (header absent) means 0,0: no heart-beats either way. Blanks
// around the numbers are tolerated. A bad value is a *ProtocolError
// (ErrMalformed).
func ParseHeartBeat(s string) (cx, cy int, err error) {
	if s == "" {
		return 0, 0, nil
	}
	a, b, found := strings.Cut(s, ",")
	if !found {
		return 0, 0, &ProtocolError{Msg: fmt.Sprintf("invalid heart-beat header %q: want two comma-separated integers", truncate(s)), Err: ErrMalformed}
	}
	if cx, err = parseMillis(a); err == nil {
		cy, err = parseMillis(b)
	}
	if err != nil {
		return 0, 0, &ProtocolError{Msg: fmt.Sprintf("invalid heart-beat header %q: %v", truncate(s), err), Err: ErrMalformed}
	}
	return cx, cy, nil
}

func parseMillis(s string) (int, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, errors.New("empty interval")
	}
	n := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, errors.New("interval is not a non-negative integer")
		}
		// A heart-beat beyond ~24 days is nonsense; the cap also keeps n far
		// from overflow on 32-bit platforms.
		if n = n*10 + int(c-'0'); n > maxHeartBeatMillis {
			return 0, errors.New("interval too large")
		}
	}
	return n, nil
}

const maxHeartBeatMillis = 1<<31 - 1

// FormatHeartBeat formats a heart-beat header value.
func FormatHeartBeat(cx, cy int) string {
	return strconv.Itoa(cx) + "," + strconv.Itoa(cy)
}

// NegotiateHeartBeat applies the STOMP heart-beat rule to one direction: the
// sender offers to send every `send` ms, the receiver wants one every
// `expect` ms. The agreed period is 0 (none) if either side says 0, otherwise
// the larger of the two.
//
// For a server that received heart-beat:cx,cy and answers sx,sy, the client
// sends every NegotiateHeartBeat(cx, sy) ms and the server every
// NegotiateHeartBeat(sx, cy) ms.
func NegotiateHeartBeat(send, expect int) int {
	if send <= 0 || expect <= 0 {
		return 0
	}
	return max(send, expect)
}
