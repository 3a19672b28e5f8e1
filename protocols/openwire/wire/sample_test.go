package wire

import (
	"reflect"
	"strconv"
)

// Sample values: every data structure type filled in every field a version
// has, deterministically, so tests can compare encodings byte for byte.

type sampler struct {
	version int
	stack   bool // throwables keep stacks and causes only when the format carries them
	seed    int
}

// sampleAll returns one filled instance of every type version v knows, in
// type id order. Several share ids and destinations, so the marshalling
// cache sees both new entries and hits.
func sampleAll(v int, stack bool) []DataStructure {
	s := &sampler{version: v, stack: stack}
	var out []DataStructure
	for t := range 256 {
		if Known(byte(t), v) {
			out = append(out, s.sample(byte(t), 0))
		}
	}
	return out
}

func (s *sampler) next() int { s.seed++; return s.seed }

func (s *sampler) sample(t byte, depth int) DataStructure {
	p := plans[t]
	pv := reflect.New(p.goType)
	v := pv.Elem()
	if p.init != nil {
		p.init(v, t)
	}
	for i := range p.fields {
		f := &p.fields[i]
		if f.in(s.version) {
			s.fill(v.FieldByIndex(f.idx), f, depth)
		}
	}
	return pv.Interface().(DataStructure)
}

var sampleLongs = []int64{0, 300, 70000, 1 << 40, -5, 65535, 1<<32 - 1}

func (s *sampler) fill(v reflect.Value, f *field, depth int) {
	n := s.next()
	switch f.kind {
	case kBool:
		v.SetBool(n%3 != 0)
	case kByte:
		if f.name == "Priority" {
			// Java's Message.setPriority clamps to 0..9.
			v.SetInt(int64(n % 10))
		} else {
			v.SetInt(int64(n%200 - 100))
		}
	case kInt:
		v.SetInt(int64(n * 1009))
	case kLong:
		v.SetInt(sampleLongs[n%len(sampleLongs)])
	case kString:
		switch {
		case f.name == "PhysicalName":
			v.SetString("dest." + strconv.Itoa(n%3))
		case n%4 == 1 && f.name != "Value" && f.name != "ConnectionID" && f.name != "MimeType":
			// Ids must not be null: the Java cache hashes them. A null
			// MimeType reads back as Java's default.
			v.SetString("")
		case n%4 == 2:
			v.SetString("ünï €" + f.name + " \U0001D11E")
		default:
			v.SetString("ascii-" + f.name)
		}
	case kBytes:
		if n%3 == 0 {
			v.SetBytes([]byte{})
		} else {
			v.SetBytes([]byte{byte(n), 0, 0xff})
		}
	case kMagic:
		v.Set(reflect.ValueOf(Magic))
	case kThrowable:
		th := &Throwable{Class: "java.lang.IllegalStateException", Message: "boom " + f.name}
		if s.stack {
			th.Stack = []StackFrame{{"a.B", "m", "B.java", 12}, {"c.D", "n", "", -1}}
			th.Cause = &Throwable{Class: "java.io.IOException", Message: "cause"}
		}
		v.Set(reflect.ValueOf(th))
	case kNested, kCached:
		if o := s.object(v.Type(), f.name, depth+1); o != nil {
			v.Set(reflect.ValueOf(o))
		}
	case kArray:
		if depth > 1 {
			return
		}
		sl := reflect.MakeSlice(v.Type(), 2, 2)
		for i := range 2 {
			if o := s.object(v.Type().Elem(), f.name, depth+1); o != nil {
				sl.Index(i).Set(reflect.ValueOf(o))
			}
		}
		v.Set(sl)
	}
}

// object builds a value for a field of Go type ft.
func (s *sampler) object(ft reflect.Type, name string, depth int) DataStructure {
	if depth > 4 {
		return nil
	}
	n := s.next()
	switch ft {
	case reflect.TypeFor[*Destination]():
		return s.sample([]byte{TypeQueue, TypeTopic, TypeTempQueue, TypeTempTopic}[n%4], depth)
	case reflect.TypeFor[TransactionID]():
		if n%2 == 0 {
			return s.sample(TypeXATransactionID, depth)
		}
		return s.sample(TypeLocalTransactionID, depth)
	case reflect.TypeFor[*Message]():
		return s.sample(TypeTextMessage, depth)
	case dataStructureType:
		switch name {
		case "AdditionalPredicate":
			return s.sample(TypeNetworkBridgeFilter, depth)
		case "ObjectID":
			return s.sample(TypeConsumerID, depth)
		}
		if n%2 == 0 {
			return s.sample(TypeConnectionID, depth)
		}
		return s.sample(TypeQueue, depth)
	}
	for t := range 256 {
		if p := plans[t]; p != nil && reflect.PointerTo(p.goType) == ft && s.version >= p.since {
			return s.sample(byte(t), depth)
		}
	}
	return nil
}
