package codec

import (
	"time"

	"github.com/junctionmq/junction/core/prop"
)

// The Go values of AMQP's types, as ReadValue returns them and AppendValue
// accepts them:
//
//	null                    nil
//	boolean                 bool
//	ubyte ushort uint ulong uint8 uint16 uint32 uint64
//	byte short int long     int8 int16 int32 int64
//	float double            float32 float64
//	decimal32/64/128        Decimal32 Decimal64 Decimal128
//	char                    Char
//	timestamp               Timestamp
//	uuid                    UUID
//	binary                  []byte (aliasing the decoded input)
//	string                  string
//	symbol                  Symbol
//	list                    List
//	map                     Map
//	array                   Array ([]Symbol is also accepted by AppendValue)
//	described               Described

// Symbol is an AMQP symbol: ASCII, used for names the protocol defines.
type Symbol string

// Char is an AMQP char, one Unicode code point.
type Char rune

// Timestamp is an AMQP timestamp: milliseconds since the unix epoch.
type Timestamp int64

// Time converts the timestamp to a time.Time.
func (t Timestamp) Time() time.Time { return time.UnixMilli(int64(t)) }

// UUID is an AMQP uuid (RFC 4122 byte order).
type UUID [16]byte

// String is the canonical 8-4-4-4-12 form, as prop renders a uuid.
func (u UUID) String() string { return prop.UUIDValue(u).Text() }

// Decimal32, Decimal64 and Decimal128 are IEEE 754 decimals, carried as
// their big-endian bytes: the broker never computes with them.
type (
	Decimal32  [4]byte
	Decimal64  [8]byte
	Decimal128 [16]byte
)

// Described is a described value: a descriptor (a uint64 code or a Symbol
// name) and the value it describes.
type Described struct {
	Descriptor any
	Value      any
}

// List is an AMQP list.
type List []any

// Map is an AMQP map. It keeps the order of its entries (AMQP maps are
// ordered on the wire and a byte-faithful re-encoding needs it); keys are
// any value, symbols for the maps the protocol defines.
type Map []MapEntry

// MapEntry is one key and value of a Map.
type MapEntry struct {
	Key   any
	Value any
}

// Get returns the value of the first entry whose key equals key (compared
// with ==, so a Symbol key never matches a string).
func (m Map) Get(key any) (any, bool) {
	for _, e := range m {
		if e.Key == key {
			return e.Value, true
		}
	}
	return nil, false
}

// Array is an AMQP array: elements of one type. Decoded arrays of a
// described type hold Described elements, all with the same descriptor.
// AppendValue writes an Array with the constructor of its first element, so
// an empty Array is written as an empty array of nulls; a []Symbol is
// written as an array of symbols even when empty.
type Array []any
