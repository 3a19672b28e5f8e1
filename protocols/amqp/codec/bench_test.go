package codec

import "testing"

// BenchmarkDecodeTransfer: the hot path of a producer, one transfer frame
// body with a 100-byte payload.
func BenchmarkDecodeTransfer(b *testing.B) {
	body := AppendFrame(nil, 0, &Transfer{Handle: 1, HasDeliveryID: true, DeliveryID: 77, DeliveryTag: []byte("tag-1"),
		HasMessageFormat: true, Settled: false}, make([]byte, 100))[FrameHeaderSize:]
	b.ReportAllocs()
	for b.Loop() {
		p, payload, err := DecodePerformative(body)
		if err != nil || len(payload) != 100 || p.(*Transfer).DeliveryID != 77 {
			b.Fatal(err)
		}
	}
}

// BenchmarkDecodeFlow: a receiver's credit top-up.
func BenchmarkDecodeFlow(b *testing.B) {
	body := (&Flow{HasNextIncomingID: true, IncomingWindow: 2048, NextOutgoingID: 5, OutgoingWindow: 2048,
		HasHandle: true, HasDeliveryCount: true, DeliveryCount: 9, HasLinkCredit: true, LinkCredit: 100}).AppendTo(nil)
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := DecodePerformative(body); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkAppendTransfer: the hot path of a consumer.
func BenchmarkAppendTransfer(b *testing.B) {
	payload := make([]byte, 100)
	buf := make([]byte, 0, 512)
	t := &Transfer{Handle: 1, HasDeliveryID: true, DeliveryTag: []byte("12345678"), HasMessageFormat: true}
	b.ReportAllocs()
	for i := uint32(0); b.Loop(); i++ {
		t.DeliveryID = i
		buf = AppendFrame(buf[:0], 3, t, payload)
	}
}

// BenchmarkDecodeTransferInto: the same frame decoded into a connection's
// Scratch, as the server reads it.
func BenchmarkDecodeTransferInto(b *testing.B) {
	body := AppendFrame(nil, 0, &Transfer{Handle: 1, HasDeliveryID: true, DeliveryID: 77, DeliveryTag: []byte("tag-1"),
		HasMessageFormat: true, Settled: false}, make([]byte, 100))[FrameHeaderSize:]
	var s Scratch
	b.ReportAllocs()
	for b.Loop() {
		p, payload, err := DecodePerformativeInto(body, &s)
		if err != nil || len(payload) != 100 || p.(*Transfer).DeliveryID != 77 {
			b.Fatal(err)
		}
	}
}
