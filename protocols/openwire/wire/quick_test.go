package wire

import (
	"bytes"
	"reflect"
	"testing"
)

func TestQuickRoundTrip(t *testing.T) {
	for _, tight := range []bool{false, true} {
		f := Format{Version: 12, Tight: tight, Cache: true, CacheSize: 1024, StackTrace: true}
		enc, dec := NewEncoder(f), NewDecoder(f)
		pid := &ProducerID{ConnectionID: "ID:x-1", Value: 1, SessionID: 2}
		cmds := []Command{
			&ConsumerInfo{BaseCommand: BaseCommand{CommandID: 5, ResponseRequired: true}, ConsumerID: &ConsumerID{"ID:x-1", 1, 7}, Destination: &Destination{TypeQueue, "q"}, PrefetchSize: 1000, Selector: "a > 1", Priority: -3},
			&Message{Type: TypeTextMessage, ProducerID: pid, Destination: &Destination{TypeTopic, "t"}, MessageID: &MessageID{ProducerID: pid, ProducerSequenceID: 70000}, Expiration: 1 << 40, Content: []byte{0, 0, 0, 1, 'x'}, Timestamp: 123456789012},
			&ExceptionResponse{Response: Response{CorrelationID: 9}, Exception: &Throwable{Class: "java.lang.Exception", Message: "bad é", Stack: []StackFrame{{"a", "b", "c", 3}}, Cause: &Throwable{Class: "x"}}},
		}
		var buf []byte
		var err error
		for _, c := range cmds {
			if buf, err = enc.Encode(buf, c); err != nil {
				t.Fatal(err)
			}
		}
		r := bytes.NewReader(buf)
		for _, c := range cmds {
			got, err := dec.ReadCommand(r)
			if err != nil {
				t.Fatalf("tight=%v: %v", tight, err)
			}
			if !reflect.DeepEqual(got, c) {
				t.Fatalf("tight=%v: got %+v want %+v", tight, got, c)
			}
		}
	}
}
