package packet_test

import (
	"bytes"
	"fmt"

	"github.com/junctionmq/junction/protocols/mqtt/packet"
)

// A server's read loop: one Reader per connection, one reused struct per hot
// packet type, replies appended to one reused buffer.
func Example() {
	conn := bytes.NewReader([]byte{
		0x10, 0x0F, 0, 4, 'M', 'Q', 'T', 'T', 4, 0x02, 0, 60, 0, 3, 'a', 'b', 'c', // CONNECT 3.1.1
		0x32, 0x09, 0, 3, 'a', '/', 'b', 0, 1, 'h', 'i', // PUBLISH QoS 1
		0xE0, 0x00, // DISCONNECT
	})
	r := packet.NewReader(conn, 1<<20)
	var (
		version byte
		pub     packet.Publish
		out     []byte
	)
	for {
		fh, body, err := r.ReadPacket()
		if err != nil {
			fmt.Println("read:", err)
			return
		}
		switch fh.Type {
		case packet.CONNECT:
			var c packet.Connect
			if err := c.Decode(fh.Flags, body, 0); err != nil {
				fmt.Println("refuse:", packet.CodeOf(err))
				return
			}
			version = c.Version
			out, _ = (&packet.Connack{}).Append(out[:0], version)
		case packet.PUBLISH:
			if err := pub.Decode(fh.Flags, body, version); err != nil {
				fmt.Println("close:", packet.CodeOf(err))
				return
			}
			// pub.Topic and pub.Payload alias the Reader's buffer: copy
			// what is kept before the next ReadPacket.
			fmt.Printf("%s %q\n", pub.Topic, pub.Payload)
			out, _ = (&packet.Puback{PacketID: pub.PacketID}).Append(out[:0], version)
		case packet.DISCONNECT:
			fmt.Println("bye")
			return
		}
		fmt.Printf("reply % x\n", out)
	}
	// Output:
	// reply 20 02 00 00
	// a/b "hi"
	// reply 40 02 00 01
	// bye
}
