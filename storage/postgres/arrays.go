package postgres

import (
	"encoding/binary"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
)

// The writer's busy array parameters, encoded by the store itself into
// PostgreSQL's binary array format. pgx encodes a []int64 or [][]byte
// element by element through reflection and an interface call per
// element: a sixth of the broker's CPU per persistent message went there.
type (
	int8s     []int64
	nullInt8s []pgtype.Int8
	byteas    [][]byte
)

// fastArrays makes conn's type map encode int8s, nullInt8s and byteas
// directly; every other value goes to pgx's own array codec as before.
func fastArrays(conn *pgx.Conn) error {
	tm := conn.TypeMap()
	for _, oid := range []uint32{pgtype.Int8ArrayOID, pgtype.ByteaArrayOID} {
		t, ok := tm.TypeForOID(oid)
		if !ok {
			return fmt.Errorf("postgres: pgx knows no type %d", oid)
		}
		ac, ok := t.Codec.(*pgtype.ArrayCodec)
		if !ok {
			return fmt.Errorf("postgres: pgx's codec for %s is a %T", t.Name, t.Codec)
		}
		tm.RegisterType(&pgtype.Type{Name: t.Name, OID: t.OID, Codec: fastArrayCodec{ac}})
	}
	return nil
}

type fastArrayCodec struct{ *pgtype.ArrayCodec }

func (c fastArrayCodec) PlanEncode(m *pgtype.Map, oid uint32, format int16, value any) pgtype.EncodePlan {
	if format == pgtype.BinaryFormatCode {
		switch value.(type) {
		case int8s, nullInt8s:
			if oid == pgtype.Int8ArrayOID {
				return fastArrayPlan{}
			}
		case byteas:
			if oid == pgtype.ByteaArrayOID {
				return fastArrayPlan{}
			}
		}
	}
	return c.ArrayCodec.PlanEncode(m, oid, format, value)
}

type fastArrayPlan struct{}

// Encode writes the binary array format: dimensions (0 or 1), whether
// an element is NULL, the element type, then for one dimension its length
// and lower bound (1), then each element as a length (-1: NULL) and its
// bytes.
func (fastArrayPlan) Encode(value any, buf []byte) ([]byte, error) {
	be := binary.BigEndian
	header := func(n int, hasNull bool, elem uint32) {
		nulls := uint32(0)
		if hasNull {
			nulls = 1
		}
		if n == 0 {
			buf = be.AppendUint32(buf, 0)
			buf = be.AppendUint32(buf, 0)
			buf = be.AppendUint32(buf, elem)
			return
		}
		buf = be.AppendUint32(buf, 1)
		buf = be.AppendUint32(buf, nulls)
		buf = be.AppendUint32(buf, elem)
		buf = be.AppendUint32(buf, uint32(n))
		buf = be.AppendUint32(buf, 1)
	}
	switch v := value.(type) {
	case int8s:
		header(len(v), false, pgtype.Int8OID)
		for _, x := range v {
			buf = be.AppendUint32(buf, 8)
			buf = be.AppendUint64(buf, uint64(x))
		}
	case nullInt8s:
		hasNull := false
		for _, x := range v {
			hasNull = hasNull || !x.Valid
		}
		header(len(v), hasNull, pgtype.Int8OID)
		for _, x := range v {
			if !x.Valid {
				buf = be.AppendUint32(buf, 0xFFFFFFFF)
				continue
			}
			buf = be.AppendUint32(buf, 8)
			buf = be.AppendUint64(buf, uint64(x.Int64))
		}
	case byteas:
		hasNull := false
		for _, b := range v {
			hasNull = hasNull || b == nil
		}
		header(len(v), hasNull, pgtype.ByteaOID)
		for _, b := range v {
			if b == nil {
				buf = be.AppendUint32(buf, 0xFFFFFFFF)
				continue
			}
			buf = be.AppendUint32(buf, uint32(len(b)))
			buf = append(buf, b...)
		}
	default:
		return nil, fmt.Errorf("postgres: fastArrayPlan cannot encode %T", value)
	}
	return buf, nil
}
