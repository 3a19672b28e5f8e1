package stomp_test

import (
	"bufio"
	"net"
	"strconv"
	"testing"

	"github.com/junctionmq/junction/protocols/stomp/frame"
	"github.com/junctionmq/junction/server/servertest"
)

// BenchmarkSendReceiptRoundTrip measures one SEND answered by its RECEIPT
// over loopback: the latency a producer that waits for each receipt sees.
func BenchmarkSendReceiptRoundTrip(b *testing.B) {
	s := servertest.Start(b, servertest.Options{})
	nc, err := net.Dial("tcp", s.Addr("stomp"))
	if err != nil {
		b.Fatal(err)
	}
	defer nc.Close()
	w := bufio.NewWriter(nc)
	rd := frame.NewReader(nc, frame.Limits{})
	w.WriteString("CONNECT\naccept-version:1.2\nhost:/\n\n\x00")
	w.Flush()
	if _, err := rd.Read(); err != nil {
		b.Fatal(err)
	}
	rd.SetVersion(frame.V1_2)
	body := make([]byte, 100)
	var f frame.Frame
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		var e frame.Encoder
		e.Begin(w.AvailableBuffer(), frame.V1_2, frame.CmdSend)
		e.Header(frame.HdrDestination, "/queue/bench.rt")
		e.Header(frame.HdrReceipt, strconv.Itoa(i))
		w.Write(e.Body(body))
		w.Flush()
		if _, err := rd.ReadFrame(&f); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkSendReceipt16 is sixteen producers each waiting for the receipt
// of every message, on one broker (persistent messages on the memory store).
func BenchmarkSendReceipt16(b *testing.B) {
	s := servertest.Start(b, servertest.Options{})
	b.SetParallelism(8)
	b.RunParallel(func(pb *testing.PB) {
		nc, err := net.Dial("tcp", s.Addr("stomp"))
		if err != nil {
			b.Error(err)
			return
		}
		defer nc.Close()
		w := bufio.NewWriter(nc)
		rd := frame.NewReader(nc, frame.Limits{})
		w.WriteString("CONNECT\naccept-version:1.2\nhost:/\n\n\x00")
		w.Flush()
		if _, err := rd.Read(); err != nil {
			b.Error(err)
			return
		}
		rd.SetVersion(frame.V1_2)
		body := make([]byte, 100)
		var f frame.Frame
		for i := 0; pb.Next(); i++ {
			var e frame.Encoder
			e.Begin(w.AvailableBuffer(), frame.V1_2, frame.CmdSend)
			e.Header(frame.HdrDestination, "/queue/bench.rt16")
			e.Header("persistent", "true")
			e.Header(frame.HdrReceipt, strconv.Itoa(i))
			w.Write(e.Body(body))
			w.Flush()
			if _, err := rd.ReadFrame(&f); err != nil {
				b.Error(err)
				return
			}
		}
	})
}
