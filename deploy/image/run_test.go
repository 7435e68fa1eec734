package main

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
)

// runAsImageUser runs the binary taken out of the image as the image would:
// as uid and gid 65532 (when the test runs as root), with only PATH in the
// environment (no HOME), from a working directory it cannot write, writing
// only under one "volume" directory it owns.
func runAsImageUser(t *testing.T, bin string) {
	root := filepath.Dir(bin)
	ro := mkdir(t, filepath.Join(root, "ro"), 0o555)
	ckpt := mkdir(t, filepath.Join(root, "checkpoint"), 0o755)
	for name, data := range map[string]string{"CURRENT": "MANIFEST-000001\n", "000001.sst": strings.Repeat("x", 3<<20)} {
		if err := os.WriteFile(filepath.Join(ckpt, name), []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	vol := mkdir(t, filepath.Join(root, "volume"), 0o700)
	attr := &syscall.SysProcAttr{Setpgid: true}
	if os.Getuid() == 0 {
		attr.Credential = &syscall.Credential{Uid: uid, Gid: gid, NoSetGroups: true}
		if err := os.Chown(vol, uid, gid); err != nil {
			t.Fatal(err)
		}
	} else {
		t.Logf("not root: running as uid %d instead of %d", os.Getuid(), uid)
	}
	command := func(ctx context.Context, args ...string) *exec.Cmd {
		cmd := exec.CommandContext(ctx, bin, args...)
		cmd.Dir, cmd.Env, cmd.SysProcAttr = ro, []string{"PATH=/usr/local/bin"}, attr
		return cmd
	}

	out, err := command(context.Background(), "version").CombinedOutput()
	if err != nil || !strings.HasPrefix(string(out), "snapsync "+testVersion+" ") {
		t.Fatalf("snapsync version: %v: %q", err, out)
	}
	t.Logf("as the image's user: %s", out)

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	addrFile := filepath.Join(vol, "addr")
	serve := command(ctx, "serve", "--source", "dir:"+ckpt, "--work-dir", filepath.Join(vol, "work"),
		"--listen", "127.0.0.1:0", "--addr-file", addrFile, "--log-format", "json")
	var stderr bytes.Buffer
	serve.Stderr = &stderr
	serve.Cancel = func() error { return serve.Process.Signal(syscall.SIGTERM) }
	if err := serve.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- serve.Wait() }()
	addr := waitFile(t, addrFile, done, &stderr)
	checkHealth(t, ctx, addr)
	cancel()
	if err := <-done; err != nil && ctx.Err() == nil {
		t.Errorf("serve: %v\n%s", err, stderr.String())
	}
	if entries, _ := os.ReadDir(ro); len(entries) != 0 {
		t.Errorf("the read-only working directory holds %d entries", len(entries))
	}
}

func mkdir(t *testing.T, dir string, mode os.FileMode) string {
	t.Helper()
	if err := os.Mkdir(dir, mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, mode); err != nil {
		t.Fatal(err)
	}
	return dir
}

// waitFile waits for the server to write its address, failing if it exits
// first (done receives the result of its Wait).
func waitFile(t *testing.T, path string, done <-chan error, stderr *bytes.Buffer) string {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if b, err := os.ReadFile(path); err == nil && len(b) > 0 {
			return string(b)
		}
		select {
		case err := <-done:
			t.Fatalf("serve exited before listening: %v\n%s", err, stderr.String())
		case <-time.After(50 * time.Millisecond):
		}
	}
	t.Fatalf("no address in %s after 30s:\n%s", path, stderr.String())
	return ""
}

// checkHealth asks grpc.health.v1.Health/Check over gRPC (h2c on loopback)
// for the server as a whole and for SnapshotService.
func checkHealth(t *testing.T, ctx context.Context, addr string) {
	t.Helper()
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	health := healthpb.NewHealthClient(conn)
	for _, svc := range []string{"", "snapsync.v1.SnapshotService"} {
		resp, err := health.Check(ctx, &healthpb.HealthCheckRequest{Service: svc})
		if err != nil || resp.GetStatus() != healthpb.HealthCheckResponse_SERVING {
			t.Fatalf("health of %q: %v, %v", svc, resp, err)
		}
		t.Logf("grpc.health.v1.Health/Check %q: %s", svc, resp.GetStatus())
	}
}
