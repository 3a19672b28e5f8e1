package wire

import (
	"testing"
)

func benchMessage() *MessageDispatch {
	pid := &ProducerID{ConnectionID: "ID:host-40000-1700000000000-1:1", Value: 1, SessionID: 1}
	dest := &Destination{Type: TypeQueue, PhysicalName: "bench.queue"}
	props, _ := AppendMap(nil, Map{{"color", "red"}, {"n", int32(7)}})
	m := &Message{Type: TypeTextMessage, ProducerID: pid, Destination: dest,
		MessageID: &MessageID{ProducerID: pid, ProducerSequenceID: 12345}, Persistent: true, Priority: 4,
		Timestamp: 1700000000000, Content: AppendText(nil, "hello, this is a benchmark message body of modest size"),
		MarshalledProperties: props}
	return &MessageDispatch{ConsumerID: &ConsumerID{ConnectionID: "ID:host-40000-1700000000000-1:1", SessionID: 1, Value: 1},
		Destination: dest, Message: m}
}

func BenchmarkEncodeDispatch(b *testing.B) {
	f := Format{Version: 12, Tight: true, Cache: true, CacheSize: 1024}
	enc := NewEncoder(f)
	md := benchMessage()
	var buf []byte
	b.ReportAllocs()
	for b.Loop() {
		var err error
		buf, err = enc.Encode(buf[:0], md)
		if err != nil {
			b.Fatal(err)
		}
	}
	b.SetBytes(int64(len(buf)))
}

func BenchmarkDecodeMessage(b *testing.B) {
	f := Format{Version: 12, Tight: true, Cache: true, CacheSize: 1024}
	enc := NewEncoder(f)
	m := benchMessage().Message
	first, _ := enc.Encode(nil, m)
	again, _ := enc.Encode(nil, m) // ids now by cache reference
	dec := NewDecoder(f)
	if _, err := dec.Decode(first[4:]); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.SetBytes(int64(len(again)))
	for b.Loop() {
		if _, err := dec.Decode(again[4:]); err != nil {
			b.Fatal(err)
		}
	}
}
