package e2e

import (
	"context"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"connectrpc.com/connect"

	"github.com/snapsync/snapsync/internal/sampledb"
	"github.com/snapsync/snapsync/internal/testpki"
	snapsyncv1 "github.com/snapsync/snapsync/proto/gen/snapsync/v1"
	"github.com/snapsync/snapsync/proto/gen/snapsync/v1/snapsyncv1connect"
)

// TestMutualTLS serves a real Pebble DB over mutual TLS with a peer
// allow-list and installs it with the real binary, then tries the ways a
// peer is refused: no certificate, a certificate of another CA, a
// certificate of the CA naming a peer not allowed, cleartext, a client that
// does not accept the server's name. Every refusal leaves the follower's DB
// as it was.
func TestMutualTLS(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	ca, rogue := testpki.NewCA(t, "cluster CA"), testpki.NewCA(t, "rogue CA")
	leader := ca.Files(t, dir, "leader", testpki.Both, "om-0.om.svc", "127.0.0.1", "spiffe://cluster/om-0")
	follower := ca.Files(t, dir, "follower", testpki.Both, "om-1.om.svc", "spiffe://cluster/om-1")
	stranger := ca.Files(t, dir, "stranger", testpki.Both, "om-9.om.svc", "spiffe://cluster/om-9")
	forged := rogue.Files(t, dir, "forged", testpki.Both, "om-1.om.svc", "spiffe://cluster/om-1")

	db := filepath.Join(dir, "leader-db")
	writePebble(t, db, sampledb.Fill{Seed: 31, Bytes: 4 << 20})
	want := pristine(t, db)
	srv := startServe(t, "pebble:"+db, "--tls-cert", leader.Cert, "--tls-key", leader.Key, "--tls-ca", leader.CA,
		"--allow-peer", "spiffe://cluster/om-1")
	https := "https://" + srv.Addr

	dest := filepath.Join(dir, "follower", "db")
	res := install(t, https, dest, "--tls-ca", follower.CA, "--tls-cert", follower.Cert, "--tls-key", follower.Key)
	if res.BytesFetched == 0 {
		t.Fatalf("nothing fetched over TLS: %+v", res)
	}
	comparePebble(t, want, dest)
	before := treeFiles(t, dest)

	testCases := []struct {
		name string
		url  string
		args []string
		want string // in the last line of stderr
	}{
		{"no client certificate", https, []string{"--tls-ca", follower.CA}, "unauthenticated"},
		{"certificate of another CA", https, []string{"--tls-ca", follower.CA, "--tls-cert", forged.Cert, "--tls-key", forged.Key}, "unauthenticated"},
		{"peer not on the allow-list", https, []string{"--tls-ca", follower.CA, "--tls-cert", stranger.Cert, "--tls-key", stranger.Key}, "permission_denied"},
		{"server not trusted", https, []string{"--tls-ca", forged.CA, "--tls-cert", follower.Cert, "--tls-key", follower.Key}, "certificate"},
		{"server name not allowed", https, []string{"--tls-ca", follower.CA, "--tls-cert", follower.Cert, "--tls-key", follower.Key,
			"--allow-peer", "spiffe://cluster/om-2"}, "spiffe://cluster/om-0"},
		{"cleartext to a TLS server", srv.URL, nil, "install"},
		{"TLS flags with an http:// URL", srv.URL, []string{"--tls-ca", follower.CA}, "use https://"},
	}
	for _, tc := range testCases {
		t.Run(tc.name, func(t *testing.T) {
			args := append([]string{"install", "--from", tc.url, "--dest", dest, "--stall-timeout", "20s"}, tc.args...)
			r := runSnapsync(context.Background(), nil, args...)
			if r.Err == nil {
				t.Fatalf("install succeeded:\n%s", r.Stderr)
			}
			if line := lastLine(r.Stderr); !strings.Contains(strings.ToLower(line), tc.want) {
				t.Fatalf("error %q does not say %q", line, tc.want)
			}
			if diff := sameContent(before, treeFiles(t, dest)); diff != "" {
				t.Fatalf("the follower's DB changed: %s", diff)
			}
		})
	}
	srv.stop()
	logs := srv.logs.String()
	for _, want := range []string{`"audit":"refused"`, "spiffe://cluster/om-9", "not an allowed peer"} {
		if !strings.Contains(logs, want) {
			t.Fatalf("server logs lack %s:\n%s", want, tail(logs, 3000))
		}
	}
}

// TestSharedToken serves with --token-file: an install without the token is
// refused, with it succeeds, and the token never reaches a log.
func TestSharedToken(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	token := filepath.Join(dir, "token")
	secret := "s3cr3t-peer-token-0123456789abcdef"
	if err := os.WriteFile(token, []byte(secret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	wrong := filepath.Join(dir, "wrong")
	if err := os.WriteFile(wrong, []byte("not-the-peer-token-0123456789abcdef"), 0o600); err != nil {
		t.Fatal(err)
	}
	db := filepath.Join(dir, "leader-db")
	writePebble(t, db, sampledb.Fill{Seed: 32, Bytes: 2 << 20})
	want := pristine(t, db)
	srv := startServe(t, "pebble:"+db, "--token-file", token)
	dest := filepath.Join(dir, "follower", "db")
	for _, args := range [][]string{nil, {"--token-file", wrong}} {
		r := runSnapsync(context.Background(), nil, append([]string{"install", "--from", srv.URL, "--dest", dest}, args...)...)
		if r.Err == nil || !strings.Contains(lastLine(r.Stderr), "unauthenticated") {
			t.Fatalf("install with %v: %v, %q", args, r.Err, lastLine(r.Stderr))
		}
		if strings.Contains(r.Stderr, secret) {
			t.Fatal("the token reached the client's stderr")
		}
	}
	if _, err := os.Stat(dest); !os.IsNotExist(err) {
		t.Fatalf("a refused install left %s: %v", dest, err)
	}
	install(t, srv.URL, dest, "--token-file", token)
	comparePebble(t, want, dest)
	srv.stop()
	if strings.Contains(srv.logs.String(), secret) {
		t.Fatal("the token reached the server's log")
	}
}

// TestRefusesOpenNonLoopback: serve on a non-loopback address without both
// TLS and an authentication of callers (client certificates or a token)
// refuses to start, and says what is missing, before binding anything.
func TestRefusesOpenNonLoopback(t *testing.T) {
	t.Parallel()
	testCases := []struct {
		name, want string
		args       []string
	}{
		{"nothing", "neither TLS nor authentication", nil},
		{"TLS without client authentication", "no authentication of callers", []string{"--tls-cert", "c", "--tls-key", "k"}},
		{"a token in the clear", "no TLS", []string{"--token-file", "t"}},
	}
	for _, tc := range testCases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			args := append([]string{"serve", "--source", "dir:" + t.TempDir(), "--listen", "0.0.0.0:0"}, tc.args...)
			r := runSnapsync(context.Background(), nil, args...)
			if r.Err == nil || !strings.Contains(r.Stderr, tc.want) || !strings.Contains(r.Stderr, "--insecure") {
				t.Fatalf("serve on 0.0.0.0 with %v: %v\n%s", tc.args, r.Err, r.Stderr)
			}
		})
	}
}

// TestLocalPrepareOverMutualTLS: a follower sidecar given its own
// certificate fetches, through the local API's Prepare, from a leader that
// requires mutual TLS and allows only it; Commit installs the leader's DB.
// The local API is a unix socket, checked by the caller's uid.
func TestLocalPrepareOverMutualTLS(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	ca := testpki.NewCA(t, "cluster CA")
	leaderPKI := ca.Files(t, dir, "leader", testpki.Both, "127.0.0.1", "spiffe://cluster/om-0")
	followerPKI := ca.Files(t, dir, "follower", testpki.Both, "spiffe://cluster/om-1")
	tlsArgs := func(f testpki.Files, allow string) []string {
		return []string{"--tls-cert", f.Cert, "--tls-key", f.Key, "--tls-ca", f.CA, "--allow-peer", allow}
	}
	db := filepath.Join(dir, "leader-db")
	writePebble(t, db, sampledb.Fill{Seed: 33, Bytes: 4 << 20})
	want := pristine(t, db)
	leader := startServe(t, "pebble:"+db, tlsArgs(leaderPKI, "spiffe://cluster/om-1")...)

	dest := filepath.Join(dir, "follower", "om.db")
	if err := os.MkdirAll(filepath.Dir(dest), 0o755); err != nil {
		t.Fatal(err)
	}
	_, sock := startSidecar(t, "registry:"+filepath.Join(dir, "follower-ckpts"),
		append(tlsArgs(followerPKI, "spiffe://cluster/om-0"), "--allow-dest", filepath.Dir(dest))...)
	local := snapsyncv1connect.NewInstallServiceClient(unixHTTPClient(sock), "http://local", connect.WithGRPC())
	id := prepareVia(t.Context(), t, local, "https://"+leader.Addr, dest)
	if _, err := local.Commit(t.Context(), connect.NewRequest(&snapsyncv1.CommitRequest{Dest: dest, SnapshotId: id})); err != nil {
		t.Fatal(err)
	}
	comparePebble(t, want, dest)
}

// unixHTTPClient speaks h2c over the unix socket at path.
func unixHTTPClient(path string) *http.Client {
	var p http.Protocols
	p.SetUnencryptedHTTP2(true)
	return &http.Client{Transport: &http.Transport{Protocols: &p,
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, "unix", path)
		}}}
}
