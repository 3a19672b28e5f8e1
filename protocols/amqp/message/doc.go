// Package message maps AMQP 1.0 messages (the sections of a transfer's
// payload: header, delivery-annotations, message-annotations, properties,
// application-properties, data / amqp-value / amqp-sequence, footer) to
// core.Message and back. docs/AMQP.md ("Message mapping") has the table.
//
// Decode reads a whole payload: it copies the bare message once (it
// becomes Message.Wire) and takes the body and strings from that copy, so
// the caller may reuse its buffer. AppendPayload writes a delivery: the
// header and message annotations from the message's fields, then the
// bare message, either the producer's own bytes (Wire, an AMQP → AMQP
// round trip is byte-faithful) or encoded from the fields for messages
// from other protocols.
package message
