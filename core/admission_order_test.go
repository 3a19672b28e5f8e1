package core

import (
	"context"
	"strconv"
	"strings"
	"testing"
)

// TestHeldSendsNotOvertaken: a producer that waits while a send is held and
// goes on as soon as it is released (as STOMP and MQTT connections do) keeps
// its order: the consumer sees every message in send order. Catches the mutation "waiting() ignores a send the
// drainer has taken from the line but not yet routed": a new send then finds
// the line empty and overtakes it.
func TestHeldSendsNotOvertaken(t *testing.T) {
	b := newTestBroker(t, fullSettings("BLOCK"))
	s := newSession(t, b, SessionOptions{})
	c, col := consume(t, s, "full", ConsumerOptions{Credit: 1, Window: true})
	p := s.NewProducer()
	const n = 2000
	body := strings.Repeat("x", 20)
	go func() {
		for i := range n {
			m := msg("full", strconv.Itoa(i)+" "+body)
			m.RoutingType = Anycast
			if err := p.Send(context.Background(), m, nil); err != nil {
				t.Errorf("send %d: %v", i, err)
				return
			}
			// As the adapters do: stop while a send is held, go on the
			// moment it is released (which is before it is routed).
			released := make(chan struct{})
			if p.OnRelease(0, func() { close(released) }) {
				<-released
			}
		}
	}()
	for i := range n {
		d := col.next(t, waitTimeout)
		got, _, _ := strings.Cut(string(d.Message.Body), " ")
		if got != strconv.Itoa(i) {
			t.Fatalf("message %d arrived as number %d: a send overtook a held one", i, mustAtoi(got))
		}
		if err := c.Ack(d.Tag); err != nil {
			t.Fatal(err)
		}
	}
}

func mustAtoi(s string) int { n, _ := strconv.Atoi(s); return n }
