package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"runtime"
	"runtime/pprof"
	"time"

	"github.com/junctionmq/junction/config"
	"github.com/junctionmq/junction/server"
)

func main() {
	cfg := &config.Config{}
	cfg.Store.Type = "memory"
	cfg.Listeners = config.Listeners{STOMP: "127.0.0.1:0", WS: "off", MQTT: "127.0.0.1:0"}
	cfg.ApplyDefaults()
	s, err := server.Start(context.Background(), cfg, slog.New(slog.NewTextHandler(io.Discard, nil)), server.Options{})
	if err != nil {
		panic(err)
	}
	proto := os.Args[1]
	n := 4000
	var ms0, ms1 runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&ms0)
	var conns []net.Conn
	for i := 0; i < n; i++ {
		c, err := net.Dial("tcp", s.Addr(proto))
		if err != nil {
			panic(err)
		}
		if proto == "stomp" {
			c.Write([]byte("CONNECT\naccept-version:1.2\nhost:x\n\n\x00"))
		} else {
			id := fmt.Sprintf("c%d", i)
			pkt := []byte{0x10, byte(12 + len(id)), 0, 4, 'M', 'Q', 'T', 'T', 4, 2, 0, 0, 0, byte(len(id))}
			c.Write(append(pkt, id...))
		}
		buf := make([]byte, 512)
		if _, err := c.Read(buf); err != nil {
			panic(err)
		}
		conns = append(conns, c)
	}
	fmt.Println("goroutines after dial", runtime.NumGoroutine())
	time.Sleep(time.Second)
	fmt.Println("goroutines after sleep", runtime.NumGoroutine())
	one := make([]byte, 1)
	conns[0].SetReadDeadline(time.Now().Add(100 * time.Millisecond))
	_, rerr := conns[0].Read(one)
	fmt.Println("conn0 read:", rerr)
	conns[n-1].SetReadDeadline(time.Now().Add(100 * time.Millisecond))
	_, rerr = conns[n-1].Read(one)
	fmt.Println("connN read:", rerr)
	runtime.GC()
	runtime.GC()
	runtime.ReadMemStats(&ms1)
	fmt.Printf("%s per conn: heap %d B, stack %d B, sys %d B, goroutines %d\n", proto,
		(ms1.HeapInuse-ms0.HeapInuse)/uint64(n), (ms1.StackInuse-ms0.StackInuse)/uint64(n), (ms1.Sys-ms0.Sys)/uint64(n), runtime.NumGoroutine())
	g, _ := os.Create("/tmp/gor." + proto)
	pprof.Lookup("goroutine").WriteTo(g, 2)
	g.Close()
	f, _ := os.Create("/tmp/heap." + proto)
	pprof.WriteHeapProfile(f)
	f.Close()
	runtime.KeepAlive(conns)
}
