// Package codec is Junction's AMQP 1.0 codec: the type system, frames,
// performatives, SASL frames, terminus, delivery states and transaction
// types (OASIS AMQP 1.0 parts 1 to 5). The client libraries keep theirs
// internal, so the server has its own.
//
// # Frames
//
// A connection starts with an 8-byte protocol header (ProtocolHeader,
// ParseProtocolHeader; id ProtoSASL then ProtoAMQP). Frames follow:
// SplitFrame finds one in a read buffer (header checked against the
// max-frame-size, extended header skipped, the body a sub-slice);
// DecodePerformative turns the body into a Performative (*Open, *Begin,
// *Attach, *Flow, *Transfer, *Disposition, *Detach, *End, *Close, or a SASL
// frame *SASLMechanisms, *SASLInit, *SASLChallenge, *SASLResponse,
// *SASLOutcome) and, for a transfer, the payload that follows it.
// AppendFrame writes one: header, performative, payload.
//
//	h, body, n, err := codec.SplitFrame(buf, maxFrameSize)
//	if n == 0 && err == nil { /* read more */ }
//	if len(body) == 0 { /* empty frame: heartbeat */ }
//	p, payload, err := codec.DecodePerformative(body)
//	switch p := p.(type) { case *codec.Transfer: ... }
//	out = codec.AppendFrame(out, channel, &codec.Flow{...}, nil)
//
// # Errors
//
// Every decoding error is a *Error, AMQP's own error type, with the
// condition to answer with: amqp:decode-error for malformed bytes,
// amqp:invalid-field for a missing mandatory field,
// amqp:connection:framing-error for a bad frame header. The same type is
// the error field of detach, end, close and rejected.
//
// # Values
//
// Decoder reads values from a slice without copying it: binaries and Raw
// encodings are sub-slices, strings and symbols are copied. Every size and
// count is checked against the bytes left before anything is allocated
// (list and map elements take at least a byte each; arrays of zero-width
// elements are capped), and nesting is bounded by MaxDepth. ReadValue
// gives the Go values listed in types.go; FieldReader reads a composite's
// fields one by one with their types and defaults. The Append functions
// write the shortest encoding of each value; ListEncoder writes a
// composite's fields with trailing nulls elided.
//
// Performative structs use the Go zero value for the spec's default where
// the two agree; the other nullable fields have a Has flag (Flow, Transfer,
// Begin, Attach) so that decoding allocates nothing per field.
package codec
