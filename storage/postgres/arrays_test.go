package postgres

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/junctionmq/junction/internal/pgtest"
)

// TestFastArrays sends the store's own array encodings to PostgreSQL and
// reads back the server's text of what it received.
func TestFastArrays(t *testing.T) {
	url := pgtest.DB(t)
	cfg, err := connConfig(url)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	if err := fastArrays(conn); err != nil {
		t.Fatal(err)
	}
	if _, ok := (fastArrayCodec{}).PlanEncode(conn.TypeMap(), pgtype.Int8ArrayOID, pgtype.BinaryFormatCode, int8s{1}).(fastArrayPlan); !ok {
		t.Fatal("int8s is not encoded by fastArrayPlan")
	}
	for _, c := range []struct {
		name, sql string
		arg       any
		want      string
	}{
		{"int8", "SELECT $1::int8[]::text", int8s{1, -2, 1 << 62}, "{1,-2,4611686018427387904}"},
		{"empty int8", "SELECT $1::int8[]::text", int8s{}, "{}"},
		{"null int8", "SELECT $1::int8[]::text", nullInt8s{{Int64: 7, Valid: true}, {}, {Int64: -1, Valid: true}}, "{7,NULL,-1}"},
		{"bytea", "SELECT $1::bytea[]::text", byteas{[]byte("ab"), {}, nil, {0, 0xff}}, `{"\\x6162","\\x",NULL,"\\x00ff"}`},
		{"empty bytea", "SELECT $1::bytea[]::text", byteas{}, "{}"},
		// Other values still go to pgx's own codec.
		{"plain []int64", "SELECT $1::int8[]::text", []int64{3, 4}, "{3,4}"},
	} {
		var got string
		if err := conn.QueryRow(ctx, c.sql, c.arg).Scan(&got); err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if got != c.want {
			t.Errorf("%s: the server received %s, want %s", c.name, got, c.want)
		}
	}
}
