package raftkv

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// The real snapsync binary, built once for the package's tests into a
// directory TestMain removes. It is built on first use, so the unit tests
// alone never wait for it.
var (
	binDir       string
	sidecarBuild = sync.OnceValues(buildSidecar)
)

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "raftkv-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "raftkv test:", err)
		os.Exit(1)
	}
	binDir = dir
	code := m.Run()
	if err := os.RemoveAll(dir); err != nil {
		fmt.Fprintln(os.Stderr, "raftkv test:", err)
	}
	os.Exit(code)
}

// buildSidecar builds cmd/snapsync in the snapsync module (two levels up:
// this example is a module of its own) and checks that its serve command has
// the flags startSidecar passes: a renamed or removed flag is a failure of
// the cluster test, never a skip.
func buildSidecar() (string, error) {
	bin := filepath.Join(binDir, "snapsync")
	build := exec.Command("go", "build", "-o", bin, "./cmd/snapsync")
	build.Dir = filepath.Join("..", "..")
	out, err := build.CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("go build cmd/snapsync: %w\n%s", err, out)
	}
	help, err := exec.Command(bin, "serve", "--help").CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("snapsync serve --help: %w\n%s", err, help)
	}
	var missing []string
	for _, flag := range []string{"--local-listen", "--local-addr-file", "--local-token-file", "--allow-dest", "--engine", "registry:"} {
		if !bytes.Contains(help, []byte(flag)) {
			missing = append(missing, flag)
		}
	}
	if len(missing) > 0 {
		return "", fmt.Errorf("snapsync serve --help does not mention %s, which the raftkv sidecar "+
			"needs: update startSidecar if a flag was renamed\n%s", strings.Join(missing, ", "), help)
	}
	return bin, nil
}

// sidecarBinary returns the built binary, failing tb if it does not build or
// lacks a flag the sidecar needs.
func sidecarBinary(tb testing.TB) string {
	tb.Helper()
	bin, err := sidecarBuild()
	if err != nil {
		tb.Fatal(err)
	}
	return bin
}

// sidecarProc is one running `snapsync serve` process, a node's sidecar.
type sidecarProc struct {
	PeerURL, LocalURL, Token string
	log                      *procLog
}

// startSidecar runs a sidecar for a node whose state lives in dataDir: it
// serves the checkpoints the node registers under dataDir/checkpoints and
// installs only into dataDir. It is stopped when the test ends.
func startSidecar(tb testing.TB, name, dataDir string) *sidecarProc {
	tb.Helper()
	bin := sidecarBinary(tb)
	ckpt, work := filepath.Join(dataDir, "checkpoints"), filepath.Join(filepath.Dir(dataDir), name+"-sidecar")
	for _, d := range []string{ckpt, work} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			tb.Fatal(err)
		}
	}
	peerFile, localFile := filepath.Join(work, "peer.addr"), filepath.Join(work, "local.addr")
	tokenFile, token := filepath.Join(work, "local.token"), name+"-local-token-0123456789"
	if err := os.WriteFile(tokenFile, []byte(token+"\n"), 0o600); err != nil {
		tb.Fatal(err)
	}
	cmd := exec.Command(bin, "serve", "--log-format", "json", "--engine", "pebble",
		"--source", "registry:"+ckpt, "--work-dir", filepath.Join(work, "work"),
		"--listen", "127.0.0.1:0", "--addr-file", peerFile,
		"--local-listen", "127.0.0.1:0", "--local-addr-file", localFile, "--local-token-file", tokenFile,
		"--allow-dest", filepath.Dir(dataDir)) // the node's data dir is the install's dest
	log := &procLog{tb: tb, name: name + "-sidecar"}
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		tb.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	tb.Cleanup(func() { stopProcess(tb, cmd, exited, log) })
	peer, local := waitAddr(tb, peerFile, exited), waitAddr(tb, localFile, exited)
	return &sidecarProc{PeerURL: "http://" + peer, LocalURL: "http://" + local, Token: token, log: log}
}

// waitAddr waits for a process to write its address to path.
func waitAddr(tb testing.TB, path string, exited chan error) string {
	tb.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		if b, err := os.ReadFile(path); err == nil && len(b) > 0 {
			return strings.TrimSpace(string(b))
		}
		select {
		case err := <-exited:
			exited <- err // for the cleanup
			tb.Fatalf("sidecar exited before writing %s: %v", path, err)
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			tb.Fatalf("no address in %s after 20s", path)
		}
	}
}

// stopProcess asks the process to stop (SIGTERM), kills it if it lingers,
// and checks it did not die on its own.
func stopProcess(tb testing.TB, cmd *exec.Cmd, exited chan error, log *procLog) {
	select {
	case err := <-exited:
		tb.Errorf("%s exited during the test: %v", log.name, err)
		return
	default:
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		tb.Errorf("stop %s: %v", log.name, err)
	}
	select {
	case err := <-exited:
		if err != nil {
			tb.Errorf("%s: %v", log.name, err)
		}
	case <-time.After(10 * time.Second):
		tb.Errorf("%s ignored SIGTERM for 10s: killed", log.name)
		if err := cmd.Process.Kill(); err != nil {
			tb.Error(err)
		}
		<-exited
	}
	log.close()
}

// procLog collects a process's output, line by line, into the test log and
// a buffer the test can search.
type procLog struct {
	tb   testing.TB
	name string
	mu   sync.Mutex
	buf  bytes.Buffer
	part []byte
	done bool
}

func (l *procLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.buf.Write(p)
	if l.done {
		return len(p), nil
	}
	l.part = append(l.part, p...)
	for {
		i := bytes.IndexByte(l.part, '\n')
		if i < 0 {
			return len(p), nil
		}
		l.tb.Logf("%s: %s", l.name, l.part[:i])
		l.part = l.part[i+1:]
	}
}

// Contains reports whether the process has written s.
func (l *procLog) Contains(s string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return bytes.Contains(l.buf.Bytes(), []byte(s))
}

// close stops logging into the test log.
func (l *procLog) close() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.done = true
}

// sidecarContext is the context of calls in the cluster test.
func sidecarContext(tb testing.TB) context.Context {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	tb.Cleanup(cancel)
	return ctx
}
