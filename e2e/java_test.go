package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/snapsync/snapsync/internal/sampledb"
)

// javaJars is the runtime classpath of a grpc-java client from Debian's
// packages (docs: /work/shared/TOOLING.md); geronimo-annotation is for
// javax.annotation.Generated in the stubs, at compile time.
var javaJars = []string{"grpc-api", "grpc-core", "grpc-netty", "grpc-protobuf", "grpc-protobuf-lite",
	"grpc-stub", "grpc-context", "protobuf", "guava", "perfmark-api", "netty-common", "netty-buffer",
	"netty-transport", "netty-codec", "netty-codec-http", "netty-codec-http2", "netty-handler",
	"netty-resolver", "geronimo-annotation-1.3-spec"}

// javaTools finds javac, java, protoc, the grpc-java plugin and the jars,
// or says what is missing.
func javaTools() (map[string]string, []string, error) {
	tools := make(map[string]string)
	var missing []string
	for _, name := range []string{"javac", "java", "protoc"} {
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

// TestJavaClient builds a Java client of the local API with Debian's protoc,
// grpc-java plugin and jars, and runs the Ozone Manager's sequence against a
// real follower sidecar whose local API is on loopback TCP with a token: a
// Prepare (each progress message printed) of a leader sidecar's checkpoint,
// Commit, then a Prepare no checkpoint reaches, which ends
// FAILED_PRECONDITION with the google.rpc.ErrorInfo reason
// MIN_INDEX_NOT_REACHED, read from the status details. It skips when a tool is missing, except under CI.
func TestJavaClient(t *testing.T) {
	t.Parallel()
	tools, jars, err := javaTools()
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%v: run make deps", err)
		}
		t.Skipf("%v (run make deps)", err)
	}
	start := time.Now()
	classes := buildJavaClient(t, tools, jars)
	t.Logf("Java stubs and client built in %v", time.Since(start).Round(time.Millisecond))

	root := t.TempDir()
	leaderDB := filepath.Join(root, "leader-db")
	writePebble(t, leaderDB, sampledb.Fill{Seed: 31, Bytes: 4 << 20})
	script := writeScript(t, `d="$SNAPSYNC_CMD_ROOT/ckpt-$$"
cp -a "`+leaderDB+`" "$d"
printf '{"dir": "%s", "term": 4, "index": 1200}\n' "$d"`)
	leader := startServe(t, "exec:"+script, "--engine", "pebble")
	nodeDir := filepath.Join(root, "om")
	if err := os.MkdirAll(nodeDir, 0o755); err != nil {
		t.Fatal(err)
	}
	local, tokenFile := startTCPFollower(t, nodeDir)
	dest := filepath.Join(nodeDir, "om.db")

	start = time.Now()
	cmd := exec.Command(tools["java"], "-cp", strings.Join(append([]string{classes}, jars...), ":"), "OmClient",
		local, tokenFile, dest, leader.URL, "1200", "1000000")
	out, err := cmd.CombinedOutput()
	t.Logf("Java client ran in %v:\n%s", time.Since(start).Round(time.Millisecond), out)
	if err != nil {
		t.Fatalf("java: %v", err)
	}
	for _, want := range []string{"progress state=INSTALL_STATE_PREPARING", "progress state=INSTALL_STATE_PREPARED",
		"prepared snapshot=", "term=4 index=1200", "committed term=4 index=1200", "error code=FAILED_PRECONDITION reason=MIN_INDEX_NOT_REACHED"} {
		if !strings.Contains(string(out), want) {
			t.Fatalf("the Java client's output lacks %q", want)
		}
	}
	comparePebble(t, leaderDB, dest)
}

// buildJavaClient generates the stubs of proto/snapsync/v1 and google.rpc's
// Status and ErrorInfo, and compiles them with testdata/java/OmClient.java;
// it returns the classes directory.
func buildJavaClient(tb testing.TB, tools map[string]string, jars []string) string {
	tb.Helper()
	dir := tb.TempDir()
	gen, classes := filepath.Join(dir, "gen"), filepath.Join(dir, "classes")
	for _, d := range []string{gen, classes} {
		if err := os.Mkdir(d, 0o755); err != nil {
			tb.Fatal(err)
		}
	}
	args := []string{"-I", filepath.Join("..", "proto"), "-I", filepath.Join("testdata", "java", "proto"),
		"--java_out=" + gen, "--grpc-java_out=" + gen, "--plugin=protoc-gen-grpc-java=" + tools["plugin"],
		"snapsync/v1/snapshot.proto", "snapsync/v1/local.proto", "google/rpc/status.proto", "google/rpc/error_details.proto"}
	if _, err := os.Stat("/usr/include/google/protobuf/any.proto"); err == nil {
		args = append([]string{"-I", "/usr/include"}, args...)
	}
	run(tb, tools["protoc"], args...)
	sources := []string{filepath.Join("testdata", "java", "OmClient.java")}
	err := filepath.WalkDir(gen, func(p string, d os.DirEntry, err error) error {
		if err == nil && strings.HasSuffix(p, ".java") {
			sources = append(sources, p)
		}
		return err
	})
	if err != nil {
		tb.Fatal(err)
	}
	run(tb, tools["javac"], append([]string{"-nowarn", "-cp", strings.Join(jars, ":"), "-d", classes}, sources...)...)
	return classes
}

func run(tb testing.TB, name string, args ...string) {
	tb.Helper()
	if out, err := exec.Command(name, args...).CombinedOutput(); err != nil {
		tb.Fatalf("%s: %v\n%s", filepath.Base(name), err, out)
	}
}

// startTCPFollower runs a follower sidecar that may install under nodeDir
// with its local API on loopback TCP behind a token; it returns the local
// API's host:port and the token file.
func startTCPFollower(tb testing.TB, nodeDir string) (string, string) {
	tb.Helper()
	dir := tb.TempDir()
	localFile, tokenFile := filepath.Join(dir, "local-addr"), filepath.Join(dir, "token")
	if err := os.WriteFile(tokenFile, []byte("om-local-token-0123456789abcdef\n"), 0o600); err != nil {
		tb.Fatal(err)
	}
	p := startServe(tb, "registry:"+filepath.Join(dir, "ckpts"), "--local-listen", "127.0.0.1:0",
		"--local-addr-file", localFile, "--local-token-file", tokenFile, "--allow-dest", nodeDir)
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if b, err := os.ReadFile(localFile); err == nil && len(b) > 0 {
			return strings.TrimSpace(string(b)), tokenFile
		}
	}
	tb.Fatalf("the follower sidecar did not open its local listener:\n%s", p.logs.String())
	return "", ""
}
