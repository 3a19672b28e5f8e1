package testkit

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// JavaClasspath is the ActiveMQ JMS client as Debian's libactivemq-java
// installs it (make test-deps).
var JavaClasspath = []string{
	"/usr/share/java/activemq-client.jar",
	"/usr/share/java/geronimo-jms_1.1_spec.jar",
	"/usr/share/java/hawtbuf.jar",
	"/usr/share/java/slf4j-api.jar",
	"/usr/share/java/slf4j-nop.jar",
	"/usr/share/java/geronimo-j2ee-management-1.1-spec.jar",
}

// NeedJava skips the test when java, javac or the JMS client is missing
// outside CI, and fails it under CI=true, where make test-deps installs
// them.
func NeedJava(t testing.TB) {
	t.Helper()
	missing := JavaMissing()
	if len(missing) == 0 {
		return
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("missing under CI (make test-deps installs them): %s", strings.Join(missing, ", "))
	}
	t.Skipf("the ActiveMQ JMS client is not installed (apt-get install default-jdk-headless libactivemq-java): missing %s", strings.Join(missing, ", "))
}

// JavaMissing lists what of java, javac and JavaClasspath is not installed.
func JavaMissing() []string {
	var missing []string
	for _, tool := range []string{"java", "javac"} {
		if _, err := exec.LookPath(tool); err != nil {
			missing = append(missing, tool)
		}
	}
	for _, jar := range JavaClasspath {
		if _, err := os.Stat(jar); err != nil {
			missing = append(missing, jar)
		}
	}
	return missing
}

// CompileJava compiles the Java sources into dir against JavaClasspath.
func CompileJava(dir string, timeout time.Duration, srcs ...string) error {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	args := append([]string{"-nowarn", "-cp", strings.Join(JavaClasspath, ":"), "-d", dir}, srcs...)
	out, err := exec.CommandContext(ctx, "javac", args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("javac: %w\n%s", err, out)
	}
	return nil
}

// JavaArgs is the java command line that runs class main from classes
// (compiled by CompileJava) with args: a client JVM tuned to start fast.
func JavaArgs(classes, main string, args ...string) []string {
	a := []string{"-Xshare:auto", "-XX:TieredStopAtLevel=1", "-cp", strings.Join(append(append([]string{}, JavaClasspath...), classes), ":"), main}
	return append(a, args...)
}
