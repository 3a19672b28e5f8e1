package conformance

import (
	"bufio"
	"context"
	_ "embed"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
)

// The OpenWire checks drive the ActiveMQ JMS client — the client OpenWire
// users run — from a small Java program compiled at run time: there is no
// OpenWire client in Go.

//go:embed java/OpenWireCheck.java
var openWireCheckSource []byte

// DefaultActiveMQClasspath is Debian's libactivemq-java and what it needs.
var DefaultActiveMQClasspath = strings.Join([]string{
	"/usr/share/java/activemq-client.jar",
	"/usr/share/java/geronimo-jms_1.1_spec.jar",
	"/usr/share/java/hawtbuf.jar",
	"/usr/share/java/slf4j-api.jar",
	"/usr/share/java/slf4j-nop.jar",
	"/usr/share/java/geronimo-j2ee-management-1.1-spec.jar",
}, ":")

func init() {
	for _, c := range []struct{ check, feature string }{
		{"connect", "connect"},
		{"queue-order", "queue send and receive in order"},
		{"topic", "topic to every subscriber"},
		{"durable", "durable subscriber gets what was sent while away"},
		{"selector", "selector"},
		{"transaction", "transacted session commit and rollback"},
		{"client-ack", "CLIENT_ACKNOWLEDGE, unacked redelivered"},
		{"temp-queue", "temporary queue request/reply"},
		{"browser", "QueueBrowser"},
		{"message-types", "every message type and property type"},
		{"prefetch0", "prefetch 0 with receive(timeout)"},
	} {
		register(check{protocol: "openwire", feature: c.feature, run: func(ctx context.Context, e *env) error {
			return e.javaCheck(ctx, c.check, e.name(c.check), "")
		}})
	}
}

// javaEnv is the compiled checker, made once per process.
var javaEnv struct {
	once sync.Once
	dir  string // the compiled classes
	err  error
}

func (e *env) java() string {
	if e.Java != "" {
		return e.Java
	}
	return "java"
}

func (e *env) classpath() string {
	if e.ActiveMQClasspath != "" {
		return e.ActiveMQClasspath
	}
	return DefaultActiveMQClasspath
}

// compileJava compiles the checker, or explains why the OpenWire checks
// cannot run here (a SKIP).
func (e *env) compileJava(ctx context.Context) (string, error) {
	javaEnv.once.Do(func() {
		javac, err := exec.LookPath("javac")
		if err != nil {
			javaEnv.err = skipf("the OpenWire checks need javac (a JDK) to build their ActiveMQ client program")
			return
		}
		for _, jar := range strings.Split(e.classpath(), ":") {
			if _, err := os.Stat(jar); err != nil {
				javaEnv.err = skipf("the OpenWire checks need the ActiveMQ JMS client: %s is missing (Debian: libactivemq-java)", jar)
				return
			}
		}
		dir, err := os.MkdirTemp("", "junction-conformance-java")
		if err != nil {
			javaEnv.err = err
			return
		}
		src := filepath.Join(dir, "OpenWireCheck.java")
		if err := os.WriteFile(src, openWireCheckSource, 0o600); err != nil {
			javaEnv.err = err
			return
		}
		out, err := exec.CommandContext(ctx, javac, "-nowarn", "-d", dir, "-cp", e.classpath(), src).CombinedOutput()
		if err != nil {
			javaEnv.err = fmt.Errorf("compiling the OpenWire checker: %v\n%s", err, out)
			return
		}
		javaEnv.dir = dir
	})
	return javaEnv.dir, javaEnv.err
}

// javaCmd prepares one run of the checker.
func (e *env) javaCmd(ctx context.Context, args ...string) (*exec.Cmd, error) {
	dir, err := e.compileJava(ctx)
	if err != nil {
		return nil, err
	}
	all := append([]string{"-cp", dir + ":" + e.classpath(), "OpenWireCheck", "tcp://" + e.OpenWire, e.User, e.Password}, args...)
	return exec.CommandContext(ctx, e.java(), all...), nil
}

// javaCheck runs one check in its own JVM and turns its last line into
// the result.
func (e *env) javaCheck(ctx context.Context, check, name, body string) error {
	args := []string{check, name}
	if body != "" {
		args = append(args, body)
	}
	cmd, err := e.javaCmd(ctx, args...)
	if err != nil {
		return err
	}
	out, err := cmd.CombinedOutput()
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	last := strings.TrimSpace(lines[len(lines)-1])
	switch {
	case last == "PASS":
		return nil
	case strings.HasPrefix(last, "SKIP "):
		return skipf("%s", strings.TrimPrefix(last, "SKIP "))
	case strings.HasPrefix(last, "FAIL "):
		return errors.New(strings.TrimPrefix(last, "FAIL "))
	case err != nil:
		return fmt.Errorf("the ActiveMQ client program failed: %v: %s", err, strings.TrimSpace(string(out)))
	}
	return fmt.Errorf("the ActiveMQ client program said %q", last)
}

// openwireSubscriber starts a JVM that subscribes to the topic and waits
// for one message; it returns once the subscription is in place.
func openwireSubscriber(ctx context.Context, e *env, name string) (*subscriber, error) {
	cmd, err := e.javaCmd(ctx, "interop-recv", name)
	if err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	lines := make(chan string, 8)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
	}()
	stop := func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	}
	for {
		select {
		case l, ok := <-lines:
			if !ok {
				stop()
				return nil, errors.New("the ActiveMQ client ended before subscribing")
			}
			if l == "READY" {
				return &subscriber{
					next: func(ctx context.Context) ([]byte, error) {
						for {
							select {
							case l, ok := <-lines:
								if !ok {
									return nil, errors.New("the ActiveMQ client received nothing")
								}
								if b, found := strings.CutPrefix(l, "BODY "); found {
									return []byte(b), nil
								}
								if f, found := strings.CutPrefix(l, "FAIL "); found {
									return nil, errors.New(f)
								}
							case <-ctx.Done():
								return nil, ctx.Err()
							}
						}
					},
					close: stop,
				}, nil
			}
			if f, found := strings.CutPrefix(l, "FAIL "); found {
				stop()
				return nil, errors.New(f)
			}
		case <-ctx.Done():
			stop()
			return nil, ctx.Err()
		}
	}
}
