package amqp_test

import (
	"fmt"
	"reflect"
	"testing"

	"github.com/Azure/go-amqp"

	"github.com/junctionmq/junction/config"
	"github.com/junctionmq/junction/server/servertest"
)

// Message annotations whose values are lists, maps or arrays, and the
// parts of a message the core has no field for (content-encoding,
// reply-to-group-id, the footer), reach an AMQP consumer as sent — also
// when the broker no longer holds the producer's bare message (a modified
// outcome's annotated copy, a dead-letter copy) and after a restart.
func TestComplexAnnotationsSurviveDeadLetterAndRestart(t *testing.T) {
	// The journal, so the restart reads the messages back from their
	// stored encoding.
	dir := t.TempDir()
	journal := servertest.Options{Config: func(c *config.Config) { c.Data, c.Store.Type = dir, "journal" }}
	s1 := servertest.Start(t, journal)
	_, ss := session(t, s1, nil)
	m := durable("annotated")
	m.Annotations = amqp.Annotations{
		"x-opt-list":   []any{int64(1), "two", true},
		"x-opt-map":    map[string]any{"k": "v", "n": int32(7)},
		"x-opt-array":  []string{"a", "b"},
		"x-opt-simple": "plain",
	}
	m.Properties = &amqp.MessageProperties{ContentEncoding: ptr("gzip"), ReplyToGroupID: ptr("rgroup")}
	m.Footer = amqp.Annotations{"x-opt-digest": "abc123"}
	send(t, newSender(t, ss, "annotated", nil), m)

	r := newReceiver(t, ss, "annotated", &amqp.ReceiverOptions{Credit: 1})
	got := receive(t, r)
	checkAnnotated(t, "first delivery", got)
	// A modified outcome with a list annotation: the queue's copy is
	// annotated (and no longer holds the producer's bytes).
	if err := r.ModifyMessage(ctxFor(t), got, &amqp.ModifyMessageOptions{Annotations: amqp.Annotations{"x-opt-hops": []any{"r1"}}}); err != nil {
		t.Fatal(err)
	}
	got = receive(t, r)
	checkAnnotated(t, "after modified", got)
	if v := got.Annotations["x-opt-hops"]; !reflect.DeepEqual(v, []any{"r1"}) {
		t.Fatalf("modified's list annotation: %#v", v)
	}
	if err := r.RejectMessage(ctxFor(t), got, nil); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "the message in the DLQ", func() bool {
		q, ok := s1.Core.Queue("DLQ")
		return ok && q.Stats().Messages == 1
	})
	if err := s1.Shutdown(); err != nil {
		t.Fatalf("shutdown: %v", err)
	}

	s2 := servertest.Start(t, journal)
	_, ss2 := session(t, s2, nil)
	d := receive(t, newReceiver(t, ss2, "DLQ", nil))
	checkAnnotated(t, "dead-lettered, after a restart", d)
	if v := d.Annotations["x-opt-hops"]; !reflect.DeepEqual(v, []any{"r1"}) {
		t.Fatalf("dead-lettered: modified's list annotation %#v", v)
	}
	if d.ApplicationProperties["_AMQ_ORIG_ADDRESS"] != "annotated" {
		t.Fatalf("not the dead-letter copy: %v", d.ApplicationProperties)
	}
}

func checkAnnotated(t *testing.T, when string, m *amqp.Message) {
	t.Helper()
	if body(m) != "annotated" {
		t.Fatalf("%s: body %q", when, body(m))
	}
	want := map[string]string{
		"x-opt-list":   fmt.Sprint([]any{int64(1), "two", true}),
		"x-opt-map":    fmt.Sprint(map[any]any{"k": "v", "n": int32(7)}),
		"x-opt-array":  fmt.Sprint([]string{"a", "b"}),
		"x-opt-simple": "plain",
	}
	for k, w := range want {
		if g := fmt.Sprint(m.Annotations[k]); g != w {
			t.Errorf("%s: annotation %s = %s (%T), want %s", when, k, g, m.Annotations[k], w)
		}
	}
	if p := m.Properties; p == nil || p.ContentEncoding == nil || *p.ContentEncoding != "gzip" || p.ReplyToGroupID == nil || *p.ReplyToGroupID != "rgroup" {
		t.Errorf("%s: properties %+v, want content-encoding gzip and reply-to-group-id rgroup", when, m.Properties)
	}
	if m.Footer["x-opt-digest"] != "abc123" {
		t.Errorf("%s: footer %v", when, m.Footer)
	}
	if t.Failed() {
		t.FailNow()
	}
}
