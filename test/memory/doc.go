// Package memory measures the broker's resident memory from outside: each
// test starts `junction serve` as a subprocess, loads it over real sockets
// and reads its VmRSS from /proc. It checks the bounds of issue 16 (an
// address costs what it holds; memory bounded by default) and produces the
// figures of docs/PERFORMANCE.md ("Memory") with -v.
package memory
