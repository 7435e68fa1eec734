package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/snapsync/snapsync/internal/testwait"
)

// javaJars is the runtime classpath of a grpc-java client from Debian's
// packages (docs: /work/shared/TOOLING.md); geronimo-annotation is for
// javax.annotation.Generated in the stubs, at compile time.
var javaJars = []string{"grpc-api", "grpc-core", "grpc-netty", "grpc-protobuf", "grpc-protobuf-lite",
	"grpc-stub", "grpc-context", "protobuf", "guava", "perfmark-api", "netty-common", "netty-buffer",
	"netty-transport", "netty-codec", "netty-codec-http", "netty-codec-http2", "netty-handler",
	"netty-resolver", "geronimo-annotation-1.3-spec"}

// jvmFlags make the short-lived JVMs of the tests (javac, javadoc, the
// programs) cheaper: C1 only and the serial collector cut javac's CPU time
// about threefold on this 2-core machine.
var jvmFlags = []string{"-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC"}

// toolFlags are jvmFlags for a JDK tool's own JVM (-J).
func toolFlags() []string {
	var out []string
	for _, f := range jvmFlags {
		out = append(out, "-J"+f)
	}
	return out
}

// javaTools finds javac, java, javadoc, protoc, the grpc-java plugin, ldb
// and the jars, or says what is missing.
func javaTools() (map[string]string, []string, error) {
	tools := make(map[string]string)
	var missing []string
	for _, name := range []string{"javac", "java", "javadoc", "protoc", "ldb"} {
		if p, err := exec.LookPath(name); err == nil {
			tools[name] = p
		} else {
			missing = append(missing, name)
		}
	}
	for _, name := range []string{"protoc-gen-grpc-java", "grpc_java_plugin"} {
		if p, err := exec.LookPath(name); err == nil {
			tools["plugin"] = p
			break
		}
	}
	if tools["plugin"] == "" {
		missing = append(missing, "grpc_java_plugin")
	}
	var jars []string
	for _, j := range javaJars {
		p := filepath.Join("/usr/share/java", j+".jar")
		if _, err := os.Stat(p); err != nil {
			missing = append(missing, p)
		}
		jars = append(jars, p)
	}
	if len(missing) > 0 {
		return nil, nil, fmt.Errorf("missing %s", strings.Join(missing, ", "))
	}
	return tools, jars, nil
}

// javaBuild is the Java client library (java/src/main) and its test programs
// (java/src/test), compiled with the stubs of proto/snapsync/v1.
type javaBuild struct {
	tools     map[string]string
	jars      []string
	classes   string
	classpath string // classes, then the jars
	took      time.Duration
}

// javaOnce compiles the Java once per test binary, into the binary's
// temporary directory (TestMain removes it).
var javaOnce = sync.OnceValues(compileJava)

// startJavaBuild starts compiling the Java (once per test binary) and
// returns a function that waits for it. A missing tool skips the test, or
// fails it under CI.
func startJavaBuild(tb testing.TB) func() *javaBuild {
	tb.Helper()
	if _, _, err := javaTools(); err != nil {
		if os.Getenv("CI") == "true" {
			tb.Fatalf("%v: run make deps", err)
		}
		tb.Skipf("%v (run make deps)", err)
	}
	done := make(chan struct{})
	var b *javaBuild
	var err error
	go func() {
		defer close(done)
		b, err = javaOnce()
	}()
	return func() *javaBuild {
		tb.Helper()
		<-done
		if err != nil {
			tb.Fatal(err)
		}
		return b
	}
}

// compileJava generates the stubs with protoc and the grpc-java plugin and
// compiles them with the library and its test programs in one javac run:
// --release 8 (Ozone's level; Debian's jars are class files 51 and 52), every
// lint warning an error, and doclint over the library's package.
func compileJava() (*javaBuild, error) {
	start := time.Now()
	tools, jars, err := javaTools()
	if err != nil {
		return nil, err
	}
	dir := filepath.Join(filepath.Dir(binary), "java")
	b := &javaBuild{tools: tools, jars: jars, classes: filepath.Join(dir, "classes")}
	b.classpath = strings.Join(append([]string{b.classes}, jars...), ":")
	gen := filepath.Join(dir, "gen")
	for _, d := range []string{gen, b.classes} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return nil, err
		}
	}
	args := []string{"-I", filepath.Join("..", "proto"), "--java_out=" + gen, "--grpc-java_out=" + gen,
		"--plugin=protoc-gen-grpc-java=" + tools["plugin"], "snapsync/v1/snapshot.proto", "snapsync/v1/local.proto"}
	if err := runQuiet(tools["protoc"], args...); err != nil {
		return nil, err
	}
	var sources []string
	for _, root := range []string{gen, filepath.Join("..", "java", "src")} {
		err := filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
			if err == nil && strings.HasSuffix(p, ".java") {
				sources = append(sources, p)
			}
			return err
		})
		if err != nil {
			return nil, err
		}
	}
	args = append(toolFlags(), "--release", "8", "-encoding", "UTF-8", "-Xlint:all,-classfile", "-Werror",
		"-Xdoclint:all/protected", "-Xdoclint/package:dev.snapsync.client",
		"-cp", strings.Join(jars, ":"), "-d", b.classes)
	if err := runQuiet(tools["javac"], append(args, sources...)...); err != nil {
		return nil, err
	}
	b.took = time.Since(start)
	return b, nil
}

// runQuiet runs a build tool and returns its output in the error if it fails.
func runQuiet(name string, args ...string) error {
	if out, err := exec.Command(name, args...).CombinedOutput(); err != nil {
		return fmt.Errorf("%s: %v\n%s", filepath.Base(name), err, out)
	}
	return nil
}

// TestJavaLibrary runs the Java client library's checks against in-process
// fakes of the sidecar (java/src/test/.../LibraryCheck.java: the Prepare idle
// watchdog, progress, the token, reasons and metadata from the status
// details, deadlines, the watch's reconnections) and javadoc over the
// library, which fails on a broken or missing doc comment.
func TestJavaLibrary(t *testing.T) {
	t.Parallel()
	b := startJavaBuild(t)()
	t.Logf("Java built in %v", b.took.Round(time.Millisecond))

	start := time.Now()
	out, err := exec.Command(b.tools["java"], append(slices.Clone(jvmFlags), "-cp", b.classpath,
		"dev.snapsync.clienttest.LibraryCheck")...).CombinedOutput()
	t.Logf("LibraryCheck ran in %v:\n%s", time.Since(start).Round(time.Millisecond), out)
	if err != nil || !strings.Contains(string(out), "\nPASS\n") {
		t.Fatalf("LibraryCheck: %v", err)
	}

	start = time.Now()
	err = runQuiet(b.tools["javadoc"], append(toolFlags(), "--release", "8", "-quiet", "-Xdoclint:all", "-Werror",
		"-cp", b.classpath, "-d", t.TempDir(), "-sourcepath", filepath.Join("..", "java", "src", "main", "java"),
		"dev.snapsync.client")...)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("javadoc ran in %v", time.Since(start).Round(time.Millisecond))
}

// startTCPSidecar runs a sidecar whose local API is on loopback TCP behind a
// token; it returns the sidecar, the local API's host:port and the token file.
func startTCPSidecar(tb testing.TB, source string, args ...string) (*serveProc, string, string) {
	tb.Helper()
	dir := tb.TempDir()
	localFile, tokenFile := filepath.Join(dir, "local-addr"), filepath.Join(dir, "token")
	if err := os.WriteFile(tokenFile, []byte("om-local-token-0123456789abcdef\n"), 0o600); err != nil {
		tb.Fatal(err)
	}
	p := startServe(tb, source, append([]string{"--local-listen", "127.0.0.1:0",
		"--local-addr-file", localFile, "--local-token-file", tokenFile}, args...)...)
	var addr string
	testwait.Eventually(tb, 30*time.Second, func() (bool, string) {
		b, err := os.ReadFile(localFile)
		addr = strings.TrimSpace(string(b))
		return err == nil && len(b) > 0, "the sidecar did not open its local listener:\n" + p.logs.String()
	})
	return p, addr, tokenFile
}
