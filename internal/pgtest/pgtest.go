// Package pgtest runs a private PostgreSQL server for a test binary, from
// Debian's postgresql package (initdb and pg_ctl into a temporary folder),
// and gives each test a database of its own. The server starts when a test
// first asks for it (Get); call Main from TestMain, or Shutdown after m.Run,
// to stop it.
//
// Without PostgreSQL installed the tests that need it skip with the reason,
// unless CI is set: there a missing PostgreSQL fails them (make test-deps
// installs it).
package pgtest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// Server is a running private PostgreSQL.
type Server struct {
	Dir  string // data folder, also the socket folder
	Port int
	bin  string // the folder holding initdb, pg_ctl
	asPG bool   // run the tools as the postgres user (we are root)
}

var (
	once     sync.Once
	current  *Server
	missing  error // why there is no server
	dbSerial atomic.Int64
)

// Main runs the tests and stops the server if one was started: a binary
// whose TestMain does more calls Shutdown after m.Run instead.
func Main(m *testing.M) {
	code := m.Run()
	Shutdown()
	os.Exit(code)
}

// Shutdown stops the test binary's server, if Get started one.
func Shutdown() {
	if current != nil {
		current.Stop()
	}
}

// Get returns the test binary's server, starting it on first use. Without
// PostgreSQL it skips t, or fails it when CI is set.
func Get(t testing.TB) *Server {
	t.Helper()
	once.Do(func() { current, missing = Start() })
	if current == nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("pgtest: CI is set and PostgreSQL cannot run: %v", missing)
		}
		t.Skipf("PostgreSQL is not available (%v): apt-get install postgresql, or make test-deps", missing)
	}
	return current
}

// binDir finds Debian's versioned PostgreSQL tools, the newest first.
func binDir() (string, error) {
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Slice(dirs, func(i, j int) bool {
		vi, _ := strconv.Atoi(filepath.Base(filepath.Dir(dirs[i])))
		vj, _ := strconv.Atoi(filepath.Base(filepath.Dir(dirs[j])))
		return vi > vj
	})
	for _, d := range dirs {
		if _, err := os.Stat(filepath.Join(d, "pg_ctl")); err == nil {
			return d, nil
		}
	}
	return "", fmt.Errorf("no /usr/lib/postgresql/*/bin/pg_ctl")
}

// Start initialises and starts a server in a new temporary folder.
func Start() (*Server, error) {
	bin, err := binDir()
	if err != nil {
		return nil, err
	}
	reapOrphans(bin)
	dir, err := os.MkdirTemp("", "junction-pg-")
	if err != nil {
		return nil, err
	}
	// The server outlives a test binary killed by a timeout; the next
	// Start stops it (reapOrphans) by this file.
	if err := os.WriteFile(filepath.Join(dir, "owner"), []byte(strconv.Itoa(os.Getpid())), 0o644); err != nil {
		return nil, err
	}
	s := &Server{Dir: dir, bin: bin, asPG: os.Geteuid() == 0}
	if s.asPG {
		// initdb and postgres refuse to run as root.
		u, err := user.Lookup("postgres")
		if err != nil {
			return nil, fmt.Errorf("running as root and no postgres user: %w", err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		if err := os.Chown(dir, uid, gid); err != nil {
			return nil, err
		}
	}
	if out, err := s.run("initdb", "-D", dir+"/data", "-A", "trust", "-U", "postgres", "--no-sync", "-E", "UTF8"); err != nil {
		return nil, fmt.Errorf("initdb: %v: %s", err, out)
	}
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	s.Port = port
	if err := s.Ctl("start"); err != nil {
		return nil, err
	}
	return s, nil
}

// reapOrphans stops and removes the servers of test binaries that died
// without stopping theirs.
func reapOrphans(bin string) {
	dirs, _ := filepath.Glob(filepath.Join(os.TempDir(), "junction-pg-*"))
	for _, dir := range dirs {
		data, err := os.ReadFile(filepath.Join(dir, "owner"))
		if err != nil {
			continue
		}
		pid, err := strconv.Atoi(string(data))
		if err != nil || pid == os.Getpid() || alive(pid) {
			continue // its owner still runs
		}
		orphan := &Server{Dir: dir, bin: bin, asPG: os.Geteuid() == 0}
		orphan.Stop()
	}
}

func alive(pid int) bool {
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}

// run runs one of the server's tools, as the postgres user when root.
func (s *Server) run(tool string, args ...string) ([]byte, error) {
	path := filepath.Join(s.bin, tool)
	var cmd *exec.Cmd
	if s.asPG {
		line := shellQuote(path)
		for _, a := range args {
			line += " " + shellQuote(a)
		}
		cmd = exec.Command("su", "postgres", "-s", "/bin/bash", "-c", line)
	} else {
		cmd = exec.Command(path, args...)
	}
	// The server outlives this command: it must not hold the test's
	// output pipes open, nor share its process group.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	return cmd.CombinedOutput()
}

func shellQuote(s string) string {
	out := "'"
	for _, r := range s {
		if r == '\'' {
			out += `'\''`
		} else {
			out += string(r)
		}
	}
	return out + "'"
}

// Ctl runs pg_ctl start, stop (fast) or restart (fast) and waits for it.
func (s *Server) Ctl(action string) error {
	args := []string{"-D", s.Dir + "/data", "-w", "-t", "30", "-l", s.Dir + "/log"}
	switch action {
	case "start", "restart":
		args = append(args, "-o", fmt.Sprintf("-p %d -k %s -c listen_addresses=127.0.0.1 -c fsync=on -c max_connections=200", s.Port, s.Dir))
	}
	if action != "start" {
		args = append(args, "-m", "fast")
	}
	args = append([]string{action}, args...)
	if out, err := s.run("pg_ctl", args...); err != nil {
		log, _ := os.ReadFile(s.Dir + "/log")
		return fmt.Errorf("pg_ctl %s: %v: %s\nserver log:\n%s", action, err, out, log)
	}
	return nil
}

// Stop stops the server and removes its folder.
func (s *Server) Stop() {
	_, _ = s.run("pg_ctl", "stop", "-D", s.Dir+"/data", "-m", "immediate", "-w")
	_ = os.RemoveAll(s.Dir)
}

// Addr is the server's host:port.
func (s *Server) Addr() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(s.Port)) }

// URL returns the URL of database db on addr (host:port; "" for the
// server's own).
func (s *Server) URL(addr, db string) string {
	if addr == "" {
		addr = s.Addr()
	}
	return fmt.Sprintf("postgres://postgres@%s/%s?sslmode=disable", addr, db)
}

// NewDB creates a database for t and returns its name; it is dropped when
// the test ends.
func (s *Server) NewDB(t testing.TB) string {
	t.Helper()
	name := fmt.Sprintf("t%d_%d", os.Getpid(), dbSerial.Add(1))
	if err := s.admin(t, "CREATE DATABASE "+name); err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	t.Cleanup(func() {
		_ = s.admin(t, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)")
	})
	return name
}

// DB creates a database for t and returns its URL.
func DB(t testing.TB) string {
	t.Helper()
	s := Get(t)
	return s.URL("", s.NewDB(t))
}

func (s *Server) admin(t testing.TB, sql string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, s.URL("", "postgres"))
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	_, err = conn.Exec(ctx, sql)
	return err
}

// Exec runs sql on database db (tests inspect or tamper with the store).
func (s *Server) Exec(t testing.TB, db, sql string, args ...any) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, s.URL("", db))
	if err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(ctx, sql, args...); err != nil {
		t.Fatalf("pgtest: %s: %v", sql, err)
	}
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// Proxy forwards TCP connections to the server, and can cut them: the
// database as seen across a network that fails.
type Proxy struct {
	ln     net.Listener
	target string

	mu    sync.Mutex
	cut   bool
	conns map[net.Conn]struct{}
}

// NewProxy starts a proxy to target, closed when t ends.
func NewProxy(t testing.TB, target string) *Proxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &Proxy{ln: ln, target: target, conns: map[net.Conn]struct{}{}}
	go p.accept()
	t.Cleanup(func() { p.Cut(); _ = ln.Close() })
	return p
}

// Addr is the proxy's host:port.
func (p *Proxy) Addr() string { return p.ln.Addr().String() }

// Cut closes every connection and refuses new ones until Heal.
func (p *Proxy) Cut() {
	p.mu.Lock()
	p.cut = true
	for c := range p.conns {
		_ = c.Close()
	}
	clear(p.conns)
	p.mu.Unlock()
}

// Heal lets connections through again.
func (p *Proxy) Heal() {
	p.mu.Lock()
	p.cut = false
	p.mu.Unlock()
}

func (p *Proxy) accept() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		if p.cut {
			p.mu.Unlock()
			_ = c.Close()
			continue
		}
		p.mu.Unlock()
		go p.forward(c)
	}
}

func (p *Proxy) forward(c net.Conn) {
	up, err := net.DialTimeout("tcp", p.target, 5*time.Second)
	if err != nil {
		_ = c.Close()
		return
	}
	p.mu.Lock()
	if p.cut {
		p.mu.Unlock()
		_ = c.Close()
		_ = up.Close()
		return
	}
	p.conns[c] = struct{}{}
	p.conns[up] = struct{}{}
	p.mu.Unlock()
	pipe := func(dst, src net.Conn) {
		buf := make([]byte, 32<<10)
		for {
			n, err := src.Read(buf)
			if n > 0 {
				if _, werr := dst.Write(buf[:n]); werr != nil {
					break
				}
			}
			if err != nil {
				break
			}
		}
		_ = dst.Close()
		_ = src.Close()
	}
	go pipe(up, c)
	pipe(c, up)
	p.mu.Lock()
	delete(p.conns, c)
	delete(p.conns, up)
	p.mu.Unlock()
}
