package message

import (
	"bytes"
	"testing"

	"github.com/junctionmq/junction/core"
	"github.com/junctionmq/junction/core/prop"
	"github.com/junctionmq/junction/protocols/amqp/codec"
)

// Annotations that are not simple values are kept in the encoding the
// producer chose (a list32 where a list8 would do, a described value) and
// written back byte for byte (before the simple ones), also when
// the message is encoded from its fields; a spec-reserved (non x-) key is
// kept but not sent.
func TestEncodedAnnotationsExact(t *testing.T) {
	list32 := []byte{0xd0, 0, 0, 0, 6, 0, 0, 0, 1, 0x54, 0x01}
	described := codec.AppendValue(nil, codec.Described{Descriptor: codec.Symbol("com.example:x"), Value: codec.List{"a", int64(-1)}})
	footer := codec.AppendMap(nil, codec.Map{{Key: codec.Symbol("x-opt-sig"), Value: []byte{1, 2, 3}}})

	var p []byte
	p = codec.AppendDescriptor(p, codec.DescMessageAnnotations)
	p, me := codec.BeginMap(p)
	p = codec.AppendSymbol(p, "x-opt-first")
	p = codec.AppendString(p, "s")
	me.Entry()
	p = codec.AppendSymbol(p, "x-opt-list")
	p = append(p, list32...)
	me.Entry()
	p = codec.AppendSymbol(p, "x-opt-described")
	p = append(p, described...)
	me.Entry()
	p = codec.AppendSymbol(p, "reserved")
	p = codec.AppendValue(p, codec.List{int64(1)})
	me.Entry()
	p = me.End(p)
	p = codec.AppendDescriptor(p, codec.DescData)
	p = codec.AppendBinary(p, []byte("b"))
	p = codec.AppendDescriptor(p, codec.DescFooter)
	p = append(p, footer...)

	m, _, err := Decode(p, now)
	if err != nil {
		t.Fatal(err)
	}
	if v := m.Annotation(AnnEncodedPrefix + "x-opt-list"); v.Kind != prop.Bytes || !bytes.Equal(bytesOf(v), list32) {
		t.Fatalf("x-opt-list kept as %+v", v)
	}
	if v := m.Annotation(AnnEncodedPrefix + "reserved"); v.Kind != prop.Bytes {
		t.Fatalf("reserved key not kept: %+v", v)
	}
	m.Wire = nil // as the broker's copies are
	out := AppendPayload(nil, m, Delivery{DeliveryCount: 1, Now: now})

	hdr := appendHeader(nil, m, Delivery{DeliveryCount: 1, Now: now})
	want := codec.AppendDescriptor(nil, codec.DescMessageAnnotations)
	want, we := codec.BeginMap(want)
	// Encoded ones come first, then the simple ones (then the JMS type
	// a message encoded from its fields carries).
	want = codec.AppendSymbol(want, "x-opt-list")
	want = append(want, list32...)
	we.Entry()
	want = codec.AppendSymbol(want, "x-opt-described")
	want = append(want, described...)
	we.Entry()
	want = codec.AppendSymbol(want, "x-opt-first")
	want = codec.AppendString(want, "s")
	we.Entry()
	want = codec.AppendSymbol(want, AnnJMSMsgType)
	want = codec.AppendByte(want, JMSMsgTypeBytes)
	we.Entry()
	want = we.End(want)
	if !bytes.HasPrefix(out, hdr) || !bytes.HasPrefix(out[len(hdr):], want) {
		t.Fatalf("annotations\n got % x\nwant % x", out, want)
	}
	wantFooter := append(codec.AppendDescriptor(nil, codec.DescFooter), footer...)
	if !bytes.HasSuffix(out, wantFooter) {
		t.Fatalf("footer not re-emitted: % x", out)
	}
	back, _, err := Decode(out, now)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(bytesOf(back.Annotation(AnnEncodedPrefix+"x-opt-described")), described) {
		t.Fatal("described value changed on the way back")
	}
	if back.Annotation(AnnEncodedPrefix+"reserved").Kind != prop.Null {
		t.Fatal("a non x- annotation was sent")
	}
}

// A simple value given by a modified outcome replaces an encoded one of
// the same name (the server adds the NULL marker), and the other way round.
func TestEncodedAnnotationReplaced(t *testing.T) {
	m := &core.Message{BodyKind: core.BodyBytes}
	m.SetAnnotation(AnnEncodedPrefix+"x-a", prop.BytesValue(codec.AppendValue(nil, codec.List{"old"})))
	m.SetAnnotation("x-a", prop.StringValue("new"))
	m.SetAnnotation(AnnEncodedPrefix+"x-a", prop.Value{})
	got, _, err := Decode(AppendPayload(nil, m, Delivery{DeliveryCount: 1, Now: now}), now)
	if err != nil {
		t.Fatal(err)
	}
	if v := got.Annotation("x-a"); v.Kind != prop.String || v.S != "new" || got.Annotation(AnnEncodedPrefix+"x-a").Kind != prop.Null {
		t.Fatalf("simple replacement: %+v", got.Annotations)
	}
	m.SetAnnotation(AnnEncodedPrefix+"x-a", prop.BytesValue(codec.AppendValue(nil, codec.List{"newer"})))
	got, _, err = Decode(AppendPayload(nil, m, Delivery{DeliveryCount: 1, Now: now}), now)
	if err != nil {
		t.Fatal(err)
	}
	if got.Annotation("x-a").Kind != prop.Null || got.Annotation(AnnEncodedPrefix+"x-a").Kind != prop.Bytes {
		t.Fatalf("encoded replacement: %+v", got.Annotations)
	}
}
