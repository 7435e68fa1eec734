package server_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"connectrpc.com/connect"

	"github.com/snapsync/snapsync/auth"
	"github.com/snapsync/snapsync/internal/connlimit"
	"github.com/snapsync/snapsync/internal/testlog"
	"github.com/snapsync/snapsync/internal/testpki"
	snapsyncv1 "github.com/snapsync/snapsync/proto/gen/snapsync/v1"
	"github.com/snapsync/snapsync/proto/gen/snapsync/v1/snapsyncv1connect"
	"github.com/snapsync/snapsync/server"
	"github.com/snapsync/snapsync/sidecar"
	"github.com/snapsync/snapsync/verify"
)

const authToken = "bydigest-test-token-0123456789abcdef"

// TestByDigestAuth: HasChunks and FetchByDigest sit behind the peer
// listener's guard as every SnapshotService method does: over TLS, a caller
// without the token is refused (Unauthenticated) before the store is asked;
// one with it is served.
func TestByDigestAuth(t *testing.T) {
	t.Parallel()
	ca := testpki.NewCA(t, "test CA")
	cert := ca.TLSCert(t, x509.ExtKeyUsageServerAuth, "127.0.0.1")
	staged := server.NewStagedChunks(0)
	chunk := pattern(7, 1000)
	path := filepath.Join(t.TempDir(), "staged")
	if err := os.WriteFile(path, chunk, 0o644); err != nil {
		t.Fatal(err)
	}
	d := verify.Sum(chunk)
	staged.Add(d, path, 0, uint32(len(chunk)))

	tokPath := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(tokPath, []byte(authToken), 0o600); err != nil {
		t.Fatal(err)
	}
	tok, err := auth.LoadToken(tokPath)
	if err != nil {
		t.Fatal(err)
	}
	srv, err := server.New(context.Background(), server.Config{Source: source(t, map[string][]byte{"a": []byte("a")}),
		WorkDir: filepath.Join(t.TempDir(), "work"), Staged: staged, Logger: testlog.Logger(t)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() }) //nolint:errcheck // closed after Serve returned
	guard := &auth.Guard{Token: tok, Log: testlog.Logger(t),
		Exempt: func(p string) bool { return strings.HasPrefix(p, "/grpc.health.v1.Health/") }}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- server.Serve(ctx, ln, connlimit.Gate(guard.Wrap, guard.Exempt, sidecar.PeerHandler(srv.Handler())),
			server.WithTLS(&tls.Config{Certificates: []tls.Certificate{cert}, NextProtos: []string{"h2", "http/1.1"}}))
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	})
	hc := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: ca.Pool()}, ForceAttemptHTTP2: true}}
	c := snapsyncv1connect.NewSnapshotServiceClient(hc, "https://"+ln.Addr().String())
	testCases := []struct {
		name     string
		token    string
		wantCode connect.Code // 0: served
	}{
		{"no token", "", connect.CodeUnauthenticated},
		{"wrong token", strings.Repeat("x", len(authToken)), connect.CodeUnauthenticated},
		{"token", authToken, 0},
	}
	for _, tc := range testCases {
		t.Run(tc.name, func(t *testing.T) {
			has := connect.NewRequest(&snapsyncv1.HasChunksRequest{Digests: [][]byte{d[:]}})
			fetch := connect.NewRequest(&snapsyncv1.FetchByDigestRequest{Digests: [][]byte{d[:]}})
			if tc.token != "" {
				has.Header().Set("Authorization", "Bearer "+tc.token)
				fetch.Header().Set("Authorization", "Bearer "+tc.token)
			}
			res, err := c.HasChunks(context.Background(), has)
			if connect.CodeOf(err) != tc.wantCode && (err != nil || tc.wantCode != 0) {
				t.Fatalf("HasChunks: %v, want code %v", err, tc.wantCode)
			}
			if err == nil && res.Msg.GetHave()[0] != 1 {
				t.Errorf("HasChunks: have %08b", res.Msg.GetHave())
			}
			st, err := c.FetchByDigest(context.Background(), fetch)
			if err != nil {
				t.Fatal(err)
			}
			n := 0
			for st.Receive() {
				n++
			}
			err = st.Close()
			if err == nil {
				err = st.Err()
			}
			if tc.wantCode != 0 && connect.CodeOf(err) != tc.wantCode || tc.wantCode == 0 && (err != nil || n != 1) {
				t.Fatalf("FetchByDigest: %d chunks, %v; want code %v", n, err, tc.wantCode)
			}
		})
	}
}
