package sidecar

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"connectrpc.com/connect"
	"github.com/rs/zerolog"

	"github.com/snapsync/snapsync/auth"
	"github.com/snapsync/snapsync/internal/testlog"
	snapsyncv1 "github.com/snapsync/snapsync/proto/gen/snapsync/v1"
	"github.com/snapsync/snapsync/proto/gen/snapsync/v1/snapsyncv1connect"
	"github.com/snapsync/snapsync/server"
)

// dialEnv, set in a child process, makes this test binary, re-executed,
// call Status on the unix socket it names, print the code and exit.
const dialEnv = "SNAPSYNC_TEST_LOCAL_DIAL"

func init() {
	path := os.Getenv(dialEnv)
	if path == "" {
		return
	}
	hc := unixClient(path)
	cl := snapsyncv1connect.NewInstallServiceClient(hc, "http://local", connect.WithGRPC())
	_, err := cl.Status(context.Background(), connect.NewRequest(&snapsyncv1.StatusRequest{Dest: "/x"}))
	fmt.Printf("uid %d: %v\n", os.Getuid(), connect.CodeOf(err))
	os.Exit(0)
}

func unixClient(path string) *http.Client {
	var p http.Protocols
	p.SetUnencryptedHTTP2(true)
	return &http.Client{Transport: &http.Transport{Protocols: &p,
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, "unix", path)
		}}}
}

// serveLocal serves an InstallService that answers every call UNIMPLEMENTED
// (so an admitted call is told apart from a refused one) behind a, on ln.
func serveLocal(tb testing.TB, ln net.Listener, a *LocalAuth) {
	tb.Helper()
	mux := http.NewServeMux()
	mux.Handle(snapsyncv1connect.NewInstallServiceHandler(snapsyncv1connect.UnimplementedInstallServiceHandler{}))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- server.Serve(ctx, ln, a.Wrap(mux), server.WithConnContext(ConnContext)) }()
	tb.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			tb.Error(err)
		}
	})
}

// TestLocalAuthUnixUID calls the local API over a unix socket from this
// process and from a child process running as uid 65534: only the allowed
// uid gets through. The socket is made world-connectable so that the uid
// check, not the file mode, is what refuses.
func TestLocalAuthUnixUID(t *testing.T) {
	if os.Getuid() != 0 {
		t.Skip("needs root to run a caller under another uid")
	}
	dir, err := os.MkdirTemp("", "snapsync-peercred-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(dir, "local.sock")
	ln, err := Listen(unixPrefix+sock, false)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(sock, 0o666); err != nil {
		t.Fatal(err)
	}
	var logs testlog.Buffer
	serveLocal(t, ln, &LocalAuth{Log: zerolog.New(&logs)})

	cl := snapsyncv1connect.NewInstallServiceClient(unixClient(sock), "http://local", connect.WithGRPC())
	_, err = cl.Status(t.Context(), connect.NewRequest(&snapsyncv1.StatusRequest{Dest: "/x"}))
	if connect.CodeOf(err) != connect.CodeUnimplemented {
		t.Fatalf("own uid: %v, want to be admitted (UNIMPLEMENTED)", err)
	}

	// The test binary sits in a directory only root may enter: copy it.
	exe, err := os.ReadFile(os.Args[0])
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "sidecar.test")
	if err := os.WriteFile(bin, exe, 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "-test.run=^$")
	cmd.Env = append(os.Environ(), dialEnv+"="+sock)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("child as uid 65534: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "uid 65534: permission_denied") {
		t.Fatalf("another uid was not refused: %s", out)
	}
	if !strings.Contains(logs.String(), `"audit":"refused"`) || !strings.Contains(logs.String(), "uid 65534") {
		t.Fatalf("no audit line names the refused uid: %s", logs.String())
	}
}

func TestLocalAuthTCPToken(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	tokenPath := filepath.Join(dir, "token")
	if err := os.WriteFile(tokenPath, []byte("local-token-0123456789abcdef\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tok, err := auth.LoadToken(tokenPath)
	if err != nil {
		t.Fatal(err)
	}
	wrongPath := filepath.Join(dir, "wrong")
	if err := os.WriteFile(wrongPath, []byte("wrong-token-0123456789abcdef"), 0o600); err != nil {
		t.Fatal(err)
	}
	wrong, err := auth.LoadToken(wrongPath)
	if err != nil {
		t.Fatal(err)
	}
	testCases := []struct {
		name   string
		server *auth.Token
		client *auth.Token
		want   connect.Code
	}{
		{name: "no token configured refuses every TCP caller", client: tok, want: connect.CodeUnauthenticated},
		{name: "missing token", server: tok, want: connect.CodeUnauthenticated},
		{name: "wrong token", server: tok, client: wrong, want: connect.CodeUnauthenticated},
		{name: "right token", server: tok, client: tok, want: connect.CodeUnimplemented},
	}
	for _, tc := range testCases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ln, err := Listen("127.0.0.1:0", false)
			if err != nil {
				t.Fatal(err)
			}
			serveLocal(t, ln, &LocalAuth{Token: tc.server})
			var p http.Protocols
			p.SetUnencryptedHTTP2(true)
			var rt http.RoundTripper = &http.Transport{Protocols: &p}
			if tc.client != nil {
				rt = auth.Bearer(rt, tc.client)
			}
			cl := snapsyncv1connect.NewInstallServiceClient(&http.Client{Transport: rt}, "http://"+ln.Addr().String(), connect.WithGRPC())
			_, err = cl.Status(t.Context(), connect.NewRequest(&snapsyncv1.StatusRequest{Dest: "/x"}))
			if got := connect.CodeOf(err); got != tc.want {
				t.Fatalf("code %v (%v), want %v", got, err, tc.want)
			}
		})
	}
}
