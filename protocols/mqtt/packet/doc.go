// Package packet encodes and decodes MQTT control packets for protocol
// versions 3.1 (protocol name "MQIsdp", level 3), 3.1.1 (level 4) and 5.0
// (level 5).
//
// The package knows nothing of the broker: it turns bytes into packet structs
// and back, and validates everything the specifications let a receiver check
// without session state. Session rules (packet identifiers in flight, topic
// alias mappings, receive maximum, who may send what) are the caller's.
//
// # Reading
//
// A [Reader] reads one whole packet at a time from a connection into a buffer
// it reuses, and refuses a packet larger than its maximum from the fixed
// header, before reading the body. [Decode] (or a packet's Decode method)
// then turns the body into a struct. Only CONNECT carries its own protocol
// level; every other packet is decoded with the version the CONNECT
// negotiated.
//
// # Aliasing
//
// Decoding does not copy variable-length binary fields: every []byte field of
// a decoded packet (Publish.Topic and Publish.Payload, Connect.Password,
// Will.Payload, Properties.CorrelationData and Properties.AuthData) is a
// sub-slice of the body that was decoded, which for a [Reader] is its read
// buffer and is overwritten by the next ReadPacket. A caller that keeps such a
// field past the next read must copy it. Every string field is an owned copy,
// so it is safe to keep. Decoding into a struct that is reused reuses the
// capacity of its slices (Subscriptions, Filters, ReasonCodes, User,
// SubscriptionIDs), which is why decoding a PUBLISH into a reused Publish
// allocates nothing unless it carries string properties.
//
// # Encoding
//
// Every packet type has an append-style encoder, Append(dst, version), which
// appends the whole packet (fixed header included) to dst and allocates only
// when dst lacks capacity. Size reports the encoded length beforehand, for
// checking a peer's Maximum Packet Size.
//
// # Errors
//
// Decoding errors are *[Error] values carrying the MQTT 5 reason code a
// server reports before closing the connection (0x81 Malformed Packet, 0x82
// Protocol Error, 0x95 Packet too large, ...). Validation comments cite the
// specifications' normative statement IDs: v5 IDs unless marked "3.1.1".
package packet
