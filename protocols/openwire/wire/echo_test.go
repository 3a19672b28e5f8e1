package wire

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"os/exec"
	"reflect"
	"testing"
	"time"
)

// TestJavaEcho is the byte-level test of every command and data structure in
// every version and encoding, with the ActiveMQ client's own marshallers as
// the oracle: each structure, filled with values in every field the version
// has, is encoded here, unmarshalled and marshalled again by Java's
// OpenWireFormat (testdata/java/Echo.java), and must come back byte for byte
// and decode to the same value.
func TestJavaEcho(t *testing.T) {
	java := javaClient(t)
	blocks, input := echoBlocks(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, java[0], append(append([]string{}, java[1:]...), "Echo")...)
	cmd.Stdin = bytes.NewReader(input)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("java Echo: %v\n%s", err, stderr.Bytes())
	}
	r := bytes.NewReader(out)
	for _, b := range blocks {
		var n int32
		if err := binary.Read(r, binary.BigEndian, &n); err != nil {
			t.Fatalf("%+v: short output: %v", b.f, err)
		}
		if n < 0 {
			var ml int32
			_ = binary.Read(r, binary.BigEndian, &ml)
			msg := make([]byte, ml)
			_, _ = io.ReadFull(r, msg)
			t.Errorf("%+v: Java could not echo: %s", b.f, msg)
			continue
		}
		got := make([]byte, n)
		if _, err := io.ReadFull(r, got); err != nil {
			t.Fatal(err)
		}
		compareFrames(t, b.f, b.cmds, b.enc, got)
	}
	if !t.Failed() && os.Getenv("OPENWIRE_UPDATE_FIXTURES") != "" {
		// Java agreed with every byte: keep them for TestGoldenEcho.
		var z bytes.Buffer
		zw := gzip.NewWriter(&z)
		_, _ = zw.Write(input)
		_ = zw.Close()
		if err := os.WriteFile(goldenEchoPath, z.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

const goldenEchoPath = "testdata/golden-echo.bin.gz"

// TestGoldenEcho compares today's encoding of every type in every format
// with the bytes the Java marshallers confirmed (TestJavaEcho wrote them),
// so the byte-level check holds where Java is not installed.
func TestGoldenEcho(t *testing.T) {
	_, input := echoBlocks(t)
	z, err := os.ReadFile(goldenEchoPath)
	if err != nil {
		t.Fatal(err)
	}
	zr, err := gzip.NewReader(bytes.NewReader(z))
	if err != nil {
		t.Fatal(err)
	}
	want, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(input, want) {
		i := 0
		for i < len(input) && i < len(want) && input[i] == want[i] {
			i++
		}
		t.Fatalf("encoding differs from the Java-confirmed bytes at offset %d of %d", i, len(want))
	}
}

type echoBlock struct {
	f    Format
	cmds []DataStructure
	enc  []byte
}

// echoBlocks encodes every type in 48 formats, as blocks in Echo.java's
// input format.
func echoBlocks(t *testing.T) ([]echoBlock, []byte) {
	type block = echoBlock
	var blocks []block
	var input []byte
	for v := MinVersion; v <= MaxVersion; v++ {
		for _, tight := range []bool{false, true} {
			for _, cache := range []bool{false, true} {
				f := Format{Version: v, Tight: tight, Cache: cache, StackTrace: tight != cache}
				b := block{f: f, cmds: sampleAll(v, f.StackTrace)}
				enc := NewEncoder(f)
				for _, c := range b.cmds {
					var err error
					if b.enc, err = enc.Encode(b.enc, c); err != nil {
						t.Fatalf("%+v: encode %s: %v", f, TypeName(c.DataType()), err)
					}
				}
				blocks = append(blocks, b)
				input = binary.BigEndian.AppendUint32(input, uint32(v))
				input = append(input, b2(tight), b2(cache), b2(f.StackTrace))
				input = binary.BigEndian.AppendUint32(input, uint32(len(b.enc)))
				input = append(input, b.enc...)
			}
		}
	}
	return blocks, input
}

func b2(b bool) byte {
	if b {
		return 1
	}
	return 0
}

// compareFrames checks Java's output frame by frame, then decodes it.
func compareFrames(t *testing.T, f Format, cmds []DataStructure, want, got []byte) {
	t.Helper()
	wf, gf := splitFrames(t, want), splitFrames(t, got)
	if len(wf) != len(gf) {
		t.Errorf("%+v: Java returned %d frames, sent %d", f, len(gf), len(wf))
		return
	}
	for i := range wf {
		if !bytes.Equal(wf[i], gf[i]) {
			t.Errorf("v%d tight=%v cache=%v: %s differs after the Java echo:\nsent %x\n got %x", f.Version, f.Tight, f.Cache,
				TypeName(cmds[i].DataType()), wf[i], gf[i])
			return
		}
	}
	dec := NewDecoder(f)
	for i, fr := range gf {
		ds := &decodeState{f: f, cache: dec.cache, r: reader{b: fr}, tight: f.Tight}
		typ, _ := ds.r.u8()
		v, err := ds.top(typ)
		if err != nil {
			t.Errorf("v%d tight=%v: decode %s: %v", f.Version, f.Tight, TypeName(typ), err)
			continue
		}
		if !reflect.DeepEqual(v, cmds[i]) {
			t.Errorf("v%d tight=%v: %s decodes to\n%s\nwant\n%s", f.Version, f.Tight, TypeName(typ), dump(v), dump(cmds[i]))
		}
	}
}

func dump(v any) string { return fmt.Sprintf("%+v", reflect.ValueOf(v).Elem().Interface()) }
