package selector

import (
	"testing"

	"github.com/junctionmq/junction/core/prop"
)

const threeClauses = "color = 'red' AND weight > 10 AND region IN ('eu','us')"

// BenchmarkEvalThreeClauses evaluates against a message as STOMP delivers
// it: every property an untyped string, so weight > 10 converts "25".
func BenchmarkEvalThreeClauses(b *testing.B) {
	s := MustParse(threeClauses)
	env := &testEnv{props: []prop.Property{
		{Name: "customer", Value: prop.UntypedValue("acme")},
		{Name: "color", Value: prop.UntypedValue("red")},
		{Name: "weight", Value: prop.UntypedValue("25")},
		{Name: "region", Value: prop.UntypedValue("eu")},
		{Name: "tier", Value: prop.UntypedValue("gold")},
	}}
	if s.Eval(env) != True {
		b.Fatal("benchmark selector does not match")
	}
	b.ReportAllocs()
	for b.Loop() {
		s.Eval(env)
	}
}

// BenchmarkEvalThreeClausesTyped is the same selector over typed properties,
// as AMQP, OpenWire and MQTT 5 deliver them.
func BenchmarkEvalThreeClausesTyped(b *testing.B) {
	s := MustParse(threeClauses)
	env := &testEnv{props: []prop.Property{
		{Name: "customer", Value: prop.StringValue("acme")},
		{Name: "color", Value: prop.StringValue("red")},
		{Name: "weight", Value: prop.Int32Value(25)},
		{Name: "region", Value: prop.StringValue("us")},
		{Name: "tier", Value: prop.StringValue("gold")},
	}}
	if s.Eval(env) != True {
		b.Fatal("benchmark selector does not match")
	}
	b.ReportAllocs()
	for b.Loop() {
		s.Eval(env)
	}
}

func BenchmarkEvalLikeGeneral(b *testing.B) {
	s := MustParse("seq LIKE '%c_b%' AND uni LIKE 'h_l%o'")
	env := newTestEnv()
	b.ReportAllocs()
	for b.Loop() {
		s.Eval(env)
	}
}

func BenchmarkEvalArithmetic(b *testing.B) {
	s := MustParse("i32 * 2 + f32 BETWEEN 50 AND 60 OR JMSPriority > 7")
	env := newTestEnv()
	b.ReportAllocs()
	for b.Loop() {
		s.Eval(env)
	}
}

func BenchmarkParse(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Parse(threeClauses); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkParseComplex(b *testing.B) {
	const sel = "(JMSPriority > 4 OR JMSType = 'urgent') AND region NOT IN ('a','b','c','d','e','f','g','h','i') " +
		"AND name LIKE 'order-%' ESCAPE '!' AND (weight * 1.5 BETWEEN 10 AND 100.5) AND discount IS NOT NULL"
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Parse(sel); err != nil {
			b.Fatal(err)
		}
	}
}

var sink prop.Value

var floorEnv Env = &testEnv{props: []prop.Property{
	{Name: "customer", Value: prop.StringValue("acme")},
	{Name: "color", Value: prop.StringValue("red")},
	{Name: "weight", Value: prop.Int32Value(25)},
	{Name: "region", Value: prop.StringValue("us")},
	{Name: "tier", Value: prop.StringValue("gold")},
}}

// BenchmarkEnvFloor is the cost of the three property lookups alone, through
// the Env interface: the part of BenchmarkEvalThreeClausesTyped that belongs
// to the test Env rather than to the selector.
func BenchmarkEnvFloor(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		sink = floorEnv.Property("color")
		sink = floorEnv.Property("weight")
		sink = floorEnv.Property("region")
	}
}
