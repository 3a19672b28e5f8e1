package openwire

import (
	"strings"

	"github.com/junctionmq/junction/core"
	"github.com/junctionmq/junction/protocols/openwire/wire"
)

// Destination names. An ActiveMQ queue `x` is the core anycast address `x`,
// a topic `x` the multicast address `x`: the same name reaches the same
// address from every protocol (STOMP /queue/x and /topic/x, AMQP x, MQTT
// x). ActiveMQ's wildcards are the core's: `*` one word, `>` any words
// (the core reads `>` as `#`). A composite destination `a,topic://b` is
// resolved into one target per part. Temporary destinations keep the name
// the client generated (ID:<connection id>:<n>), which is unique broker-wide.

// advisoryPrefix starts every ActiveMQ advisory topic.
const advisoryPrefix = "ActiveMQ.Advisory."

// Advisory topics the server publishes to.
const (
	advisoryTempQueue = advisoryPrefix + "TempQueue"
	advisoryTempTopic = advisoryPrefix + "TempTopic"
)

// target is one core destination of an ActiveMQ destination.
type target struct {
	name string // the core address (and, for a queue, the queue name)
	typ  byte   // wire.TypeQueue, TypeTopic, TypeTempQueue or TypeTempTopic
}

func (t target) topic() bool { return t.typ == wire.TypeTopic || t.typ == wire.TypeTempTopic }
func (t target) temp() bool  { return t.typ == wire.TypeTempQueue || t.typ == wire.TypeTempTopic }

func (t target) routing() core.RoutingType {
	if t.topic() {
		return core.Multicast
	}
	return core.Anycast
}

func (t target) wildcard() bool { return strings.ContainsAny(t.name, "*>#") }

func (t target) advisory() bool { return t.topic() && strings.HasPrefix(t.name, advisoryPrefix) }

// destination renders t as the client's ActiveMQDestination.
func (t target) destination() *wire.Destination {
	return &wire.Destination{Type: t.typ, PhysicalName: t.name}
}

// kinds are the prefixes a part of a composite destination may carry.
var kinds = [...]struct {
	prefix string
	typ    byte
}{
	{"queue://", wire.TypeQueue}, {"topic://", wire.TypeTopic},
	{"temp-queue://", wire.TypeTempQueue}, {"temp-topic://", wire.TypeTempTopic},
}

// targets splits a destination into its parts; each part may name its own
// kind with a queue://, topic://, temp-queue:// or temp-topic:// prefix, as
// the client allows in a composite.
func targets(d *wire.Destination) ([]target, error) {
	if d == nil {
		return nil, jmsError("javax.jms.InvalidDestinationException", "no destination given")
	}
	name := d.PhysicalName
	if i := strings.IndexByte(name, '?'); i >= 0 {
		name = name[:i] // destination options are the client's business
	}
	parts := []string{name}
	if !d.IsTemporary() && strings.IndexByte(name, ',') >= 0 {
		parts = strings.Split(name, ",")
	}
	out := make([]target, 0, len(parts))
	for _, p := range parts {
		t := target{name: strings.TrimSpace(p), typ: d.Type}
		if strings.Contains(t.name, "://") {
			for _, k := range kinds {
				if strings.HasPrefix(t.name, k.prefix) {
					t.name, t.typ = t.name[len(k.prefix):], k.typ
					break
				}
			}
		}
		if t.name == "" {
			return nil, jmsError("javax.jms.InvalidDestinationException", "destination "+quote(d.PhysicalName)+" has an empty name")
		}
		switch t.typ {
		case wire.TypeQueue, wire.TypeTopic, wire.TypeTempQueue, wire.TypeTempTopic:
		default:
			return nil, jmsError("javax.jms.InvalidDestinationException", "not a destination type: "+wire.TypeName(t.typ))
		}
		out = append(out, t)
	}
	return out, nil
}

// coreName is the address a subscription pattern names: ActiveMQ's `>` is
// the core's `#`.
func coreName(name string) string {
	if strings.IndexByte(name, '>') < 0 {
		return name
	}
	return strings.ReplaceAll(name, ">", "#")
}

// replyTarget renders a core reply-to as an ActiveMQ destination: an
// OpenWire producer's own kind when it recorded one, else by routing type
// (a temporary name, ID:..., is a temporary queue or topic).
func replyTarget(m *core.Message) *wire.Destination {
	if m.ReplyTo == "" {
		return nil
	}
	if v := m.Annotation(annReplyToType); v.Kind != 0 {
		return &wire.Destination{Type: byte(v.I), PhysicalName: m.ReplyTo}
	}
	temp := strings.HasPrefix(m.ReplyTo, "ID:")
	switch {
	case m.ReplyToType == core.Multicast && temp:
		return &wire.Destination{Type: wire.TypeTempTopic, PhysicalName: m.ReplyTo}
	case m.ReplyToType == core.Multicast:
		return &wire.Destination{Type: wire.TypeTopic, PhysicalName: m.ReplyTo}
	case temp:
		return &wire.Destination{Type: wire.TypeTempQueue, PhysicalName: m.ReplyTo}
	}
	return &wire.Destination{Type: wire.TypeQueue, PhysicalName: m.ReplyTo}
}

func quote(s string) string {
	if len(s) > 64 {
		s = s[:64] + "..."
	}
	return "'" + s + "'"
}
