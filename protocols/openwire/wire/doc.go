// Package wire is the OpenWire codec: the binary protocol of the ActiveMQ
// 5.x JMS client, versions 1 to 12, in loose and tight encoding, with the
// marshalling cache.
//
// # Frames and handshake
//
// Every frame is a big-endian int32 size, a data structure type byte and the
// structure's fields. Both sides open with a WireFormatInfo in the initial
// format (loose, uncached, size-prefixed); each then switches to the format
// Negotiate computes from the two:
//
//	dec := wire.NewDecoder(wire.InitialFormat())
//	enc := wire.NewEncoder(wire.InitialFormat())
//	ours := wire.ServerOptions(30*time.Second, maxFrame)
//	out, _ := enc.Encode(nil, wire.NewWireFormatInfo(ours)) // write out
//	cmd, err := dec.ReadCommand(conn)                      // the client's WireFormatInfo
//	n, err := wire.Negotiate(ours, cmd.(*wire.WireFormatInfo), maxFrame)
//	dec.SetFormat(n.Format); enc.SetFormat(n.Format)
//
// The Decoder belongs to the reader goroutine and the Encoder to the writer:
// each holds its direction's marshalling cache.
//
// # Marshalling
//
// plans.go holds one table entry per data structure type: its ordered fields,
// each with a kind (bool, int, long, string, nested or cached object, ...) and
// the protocol versions that have it. The generated Java marshallers differ
// between versions only by such fields, so one reflective codec serves every
// version. Tight encoding writes all booleans (and the "how wide is this
// long" and "is this string ASCII" bits) into a bit stream that precedes the
// data; loose encoding writes them inline as bytes.
//
// Strings: a null string and "" both decode to "", and "" encodes as null.
// Byte slices keep the distinction (nil = null).
//
// # Safety
//
// Every length and count is checked against the bytes left in the frame
// before anything is allocated; frames are bounded by Format.MaxFrameSize;
// cache indexes are checked against the negotiated cache size, and only ids,
// destinations and transaction ids may be cached; nesting is bounded; the
// structs one frame decodes into are bounded by a multiple of its size. An exception (Throwable) is decoded into plain strings: no class
// name from the wire ever selects code or a Go type (CVE-2023-46604 was the
// Java marshaller instantiating the class an ExceptionResponse named). A
// nested object's type id only selects among the Go types its field may hold.
//
// Errors are *DecodeError values wrapping a category (ErrUnknownType,
// ErrTruncated, ErrCacheIndex, ...). Frames are size-prefixed, so after a
// non-Fatal DecodeError the stream is still in step and the server can answer
// the command (HaveBase, CommandID, ResponseRequired) with an
// ExceptionResponse.
//
// # Message bodies and properties
//
// Message.Content and Message.MarshalledProperties stay in wire form. body.go
// decodes and builds the bodies of each message type (text, bytes, map,
// stream, object as opaque bytes), inflating compressed bodies with a size
// bound; primitive.go reads and writes the primitive map and stream formats.
package wire
