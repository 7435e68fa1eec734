package kubernetes

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/snapsync/snapsync/deploy/internal/snapbin"
	"github.com/snapsync/snapsync/internal/testpki"
)

// TestSidecarArgs runs the sidecar's arguments through the real binary, with
// the pod's paths moved under a temporary directory, the listeners on
// loopback port 0, and certificates made for the test in the Secret's
// shape: the sidecar must start and answer a gRPC health check over mutual
// TLS.
func TestSidecarArgs(t *testing.T) {
	m := load(t)
	side := container(t, m.statefulSets[0], "snapsync")
	dir := t.TempDir()
	bin := filepath.Join(dir, "snapsync")
	snapbin.Build(t, "k8s-test", bin)
	help, err := exec.Command(bin, "serve", "--help").CombinedOutput()
	if err != nil {
		t.Fatalf("serve --help: %v\n%s", err, help)
	}
	root := filepath.Join(dir, "pod")
	args := rewrite(t, side.Args, root, strings.Contains(string(help), "--metrics-listen"))
	for _, d := range []string{"data/metadata/snapsync-checkpoints", "run/snapsync", "etc/snapsync/tls"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	ca := testpki.NewCA(t, "ozone-ca")
	peerName := "om-snapsync.ozone.svc.cluster.local"
	crt, key := ca.Issue(t, testpki.Both, peerName)
	tlsDir := filepath.Join(root, "etc/snapsync/tls")
	for name, b := range map[string][]byte{"tls.crt": crt, "tls.key": key, "ca.crt": ca.PEM()} {
		testpki.WriteFile(t, filepath.Join(tlsDir, name), b)
	}
	addrFile := filepath.Join(dir, "addr")
	args = append(args, "--addr-file="+addrFile)
	t.Logf("snapsync %s", strings.Join(args, " "))

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	addr := waitAddr(t, addrFile, done, &stderr)
	pair, err := tls.X509KeyPair(crt, key)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(ca.PEM())
	creds := credentials.NewTLS(&tls.Config{Certificates: []tls.Certificate{pair}, RootCAs: pool, ServerName: peerName})
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(creds))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	resp, err := healthpb.NewHealthClient(conn).Check(ctx, &healthpb.HealthCheckRequest{})
	if err != nil || resp.GetStatus() != healthpb.HealthCheckResponse_SERVING {
		t.Fatalf("health over mTLS: %v, %v\n%s", resp, err, stderr.String())
	}
	if _, err := os.Stat(filepath.Join(root, "run/snapsync/om.sock")); err != nil {
		t.Errorf("local API socket: %v", err)
	}
	cancel()
	if err := <-done; err != nil && ctx.Err() == nil {
		t.Errorf("serve: %v\n%s", err, stderr.String())
	}
}

// rewrite moves the pod's absolute paths under root and every listener to
// loopback port 0. Without a --metrics-listen in the binary (the metrics
// work not merged yet) its two flags are dropped, and the test says so.
func rewrite(t *testing.T, args []string, root string, metrics bool) []string {
	t.Helper()
	var out []string
	for _, a := range args {
		name, value, _ := strings.Cut(a, "=")
		switch name {
		case "--listen", "--metrics-listen":
			value = "127.0.0.1:0"
		}
		if !metrics && strings.HasPrefix(name, "--metrics-") {
			t.Logf("this snapsync has no --metrics-listen: dropping %s", a)
			continue
		}
		for _, p := range []string{"/data/", "/run/", "/etc/"} {
			value = strings.ReplaceAll(value, p, root+p)
		}
		if value != "" {
			a = name + "=" + value
		}
		out = append(out, a)
	}
	return out
}

func waitAddr(t *testing.T, path string, done <-chan error, stderr *bytes.Buffer) string {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); {
		if b, err := os.ReadFile(path); err == nil && len(b) > 0 {
			return string(b)
		}
		select {
		case err := <-done:
			t.Fatalf("serve exited: %v\n%s", err, stderr.String())
		case <-time.After(50 * time.Millisecond):
		}
	}
	t.Fatalf("serve wrote no address:\n%s", stderr.String())
	return ""
}
