package frame_test

import (
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/junctionmq/junction/protocols/stomp/frame"
)

// A server read loop: negotiate on CONNECT, then decode with that version's
// escaping; heart-beats are reported separately so the idle timer can be reset.
func ExampleReader_ReadFrame() {
	// Three separate reads, as from a socket.
	conn := io.MultiReader(
		strings.NewReader("CONNECT\naccept-version:1.1,1.2\nheart-beat:10000,0\n\n\x00"),
		strings.NewReader("\n"), // a heart-beat
		strings.NewReader("SEND\ndestination:/queue/a\\cb\n\nhello\x00"),
	)
	r := frame.NewReader(conn, frame.Limits{})
	var f frame.Frame
	for {
		hb, err := r.ReadFrame(&f)
		var pe *frame.ProtocolError
		switch {
		case err == io.EOF:
			return
		case errors.As(err, &pe):
			fmt.Println("send ERROR with message:", pe.Msg)
			return
		case err != nil:
			fmt.Println("connection error:", err)
			return
		case hb:
			fmt.Println("heart-beat")
			continue
		}
		switch f.Command {
		case frame.CmdConnect, frame.CmdStomp:
			accept, _ := f.Get(frame.HdrAcceptVersion)
			v, ok := frame.Negotiate(accept)
			if !ok {
				fmt.Println("no common version; supported:", frame.SupportedVersions)
				return
			}
			cx, cy, _ := frame.ParseHeartBeat(must(f.Get(frame.HdrHeartBeat)))
			r.SetVersion(v)
			fmt.Println("connected with", v, "client heart-beat", cx, cy)
		case frame.CmdSend:
			dest, _ := f.Get(frame.HdrDestination)
			fmt.Printf("send to %s: %s\n", dest, f.Body)
		}
	}
	// Output:
	// connected with 1.2 client heart-beat 10000 0
	// heart-beat
	// send to /queue/a:b: hello
}

func must(s string, _ bool) string { return s }

// The delivery hot path appends a MESSAGE to the connection's write buffer
// without building a Frame.
func ExampleEncoder() {
	var buf []byte
	var e frame.Encoder
	e.Begin(buf, frame.V1_2, frame.CmdMessage)
	e.Header(frame.HdrSubscription, "0")
	e.HeaderUint(frame.HdrMessageID, 42)
	e.Header(frame.HdrDestination, "/queue/a:b")
	buf = e.Body([]byte("hello"))
	buf = append(buf, frame.Heartbeat...)
	fmt.Printf("%q\n", buf)
	// Output:
	// "MESSAGE\nsubscription:0\nmessage-id:42\ndestination:/queue/a\\cb\ncontent-length:5\n\nhello\x00\n"
}
