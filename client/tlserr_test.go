package client

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/url"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/rs/zerolog"

	"github.com/snapsync/snapsync/auth"
	"github.com/snapsync/snapsync/internal/testlog"
	"github.com/snapsync/snapsync/internal/testpki"
	"github.com/snapsync/snapsync/server"
)

// startTLSServer serves the golden checkpoint over TLS with cfg on
// 127.0.0.1 until the test's end and returns its https:// URL.
func startTLSServer(tb testing.TB, cfg *tls.Config) string {
	tb.Helper()
	srv, err := server.New(context.Background(), server.Config{Source: goldenSource(tb), WorkDir: filepath.Join(tb.TempDir(), "work"),
		ChunkSize: testChunkSize, ReuseWithin: -1, Logger: testlog.Logger(tb)})
	if err != nil {
		tb.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- server.Serve(ctx, ln, srv.Handler(), server.WithTLS(cfg)) }()
	tb.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			tb.Error(err)
		}
		if err := srv.Close(); err != nil {
			tb.Error(err)
		}
	})
	return "https://" + ln.Addr().String()
}

// TestTLSErrorsArePermanent installs from servers whose TLS set-up cannot
// work, on either side: each install fails at its first attempt, with no
// backoff, with ErrTLS and an error that names the certificate problem.
func TestTLSErrorsArePermanent(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	ca, rogue := testpki.NewCA(t, "cluster CA"), testpki.NewCA(t, "rogue CA")
	const serverID = "spiffe://cluster/om-0"
	testCases := []struct {
		name        string
		serverNames []string         // SANs of the server's certificate (ca's); default 127.0.0.1 and serverID
		serverUsage x509.ExtKeyUsage // default server auth
		clientCAs   *testpki.CA      // the server verifies client certificates against it in the handshake
		trust       *testpki.CA      // the CA the client trusts; default ca
		clientCert  *testpki.CA      // issuer of the client's certificate; default none
		allow       []string         // the client's --allow-peer
		plain       bool             // https:// to a cleartext server
		tls12       bool             // the server speaks TLS 1.2 at most
		blind       bool             // failed attempts may not say why (see below)
		want        string           // in the error; "" for success
		wantAs      func(error) bool // the error's type, when crypto/x509 says it
	}{
		{name: "trusted server", want: ""},
		{name: "server of an unknown CA", trust: rogue, want: "certificate signed by unknown authority",
			wantAs: func(err error) bool { _, ok := errors.AsType[x509.UnknownAuthorityError](err); return ok }},
		{name: "server of an unknown CA, allow-list", trust: rogue, allow: []string{serverID}, want: "certificate signed by unknown authority",
			wantAs: func(err error) bool { _, ok := errors.AsType[x509.UnknownAuthorityError](err); return ok }},
		{name: "server named otherwise", serverNames: []string{"om-0.om.svc"}, want: "127.0.0.1",
			wantAs: func(err error) bool { _, ok := errors.AsType[x509.HostnameError](err); return ok }},
		{name: "server certificate for clients only", serverUsage: x509.ExtKeyUsageClientAuth, want: "incompatible key usage",
			wantAs: func(err error) bool { _, ok := errors.AsType[x509.CertificateInvalidError](err); return ok }},
		{name: "server not on the allow-list", allow: []string{"spiffe://cluster/om-2"}, want: "not allowed",
			wantAs: func(err error) bool { return errors.Is(err, auth.ErrPermissionDenied) }},
		{name: "server refuses the client's CA", tls12: true, clientCAs: ca, clientCert: rogue, want: "unknown certificate authority"},
		{name: "server requires a client certificate", tls12: true, clientCAs: ca, want: "handshake failure"},
		// In TLS 1.3 a server judges the client's certificate after the
		// client's handshake is done: its alert races the client's first
		// request, which may see only a closed connection (retried like any
		// other) before an attempt reads the alert.
		{name: "server refuses the client's CA, TLS 1.3", blind: true, clientCAs: ca, clientCert: rogue, want: "unknown certificate authority"},
		{name: "server requires a client certificate, TLS 1.3", blind: true, clientCAs: ca, want: "certificate required"},
		{name: "https to a cleartext server", plain: true, want: "TLS"},
	}
	for i, tc := range testCases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			names, usage := tc.serverNames, tc.serverUsage
			if names == nil {
				names = []string{"127.0.0.1", serverID}
			}
			if usage == 0 {
				usage = x509.ExtKeyUsageServerAuth
			}
			files := ca.Files(t, dir, "server-"+string(rune('a'+i)), usage, names...)
			var url string
			if tc.plain {
				url = "https://" + startServer(t, server.Config{Source: goldenSource(t)}, "").addr
			} else {
				st, err := auth.NewServerTLS(auth.TLSFiles{Cert: files.Cert, Key: files.Key})
				if err != nil {
					t.Fatal(err)
				}
				cfg := st.Config()
				if tc.clientCAs != nil {
					pool := x509.NewCertPool()
					pool.AppendCertsFromPEM(tc.clientCAs.PEM())
					cfg.ClientAuth, cfg.ClientCAs = tls.RequireAndVerifyClientCert, pool
				}
				if tc.tls12 {
					cfg.MaxVersion = tls.VersionTLS12
				}
				url = startTLSServer(t, cfg)
			}
			trust := tc.trust
			if trust == nil {
				trust = ca
			}
			cf := auth.TLSFiles{CA: filepath.Join(dir, "trust-"+string(rune('a'+i)))}
			testpki.WriteFile(t, cf.CA, trust.PEM())
			if tc.clientCert != nil {
				c := tc.clientCert.Files(t, dir, "client-"+string(rune('a'+i)), x509.ExtKeyUsageClientAuth, "om-1")
				cf.Cert, cf.Key = c.Cert, c.Key
			}
			allow, err := auth.ParseAllowList(tc.allow)
			if err != nil {
				t.Fatal(err)
			}
			ct, err := auth.NewClientTLS(cf, allow)
			if err != nil {
				t.Fatal(err)
			}
			var logs testlog.Buffer
			cfg := testConfig(t, filepath.Join(t.TempDir(), "db"))
			cfg.HTTPClient = NewHTTPClient(WithTLS(ct))
			cfg.RetryWait, cfg.MaxAttempts = 100*time.Millisecond, DefaultMaxAttempts // ~10 s of backoff if retried
			cfg.Logger = zerolog.New(&logs).Level(zerolog.WarnLevel)
			start := time.Now()
			_, err = Install(context.Background(), url, 0, cfg)
			took := time.Since(start)
			if tc.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil {
				t.Fatal("installed")
			}
			if strings.Contains(logs.String(), "retrying") && !tc.blind {
				t.Fatalf("retried (%v): %v\n%s", took, err, logs.String())
			}
			if !errors.Is(err, ErrTLS) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err %v, want ErrTLS saying %q", err, tc.want)
			}
			if tc.wantAs != nil && !tc.wantAs(err) {
				t.Fatalf("err %v (%T) is not of the type crypto/x509 gives it", err, errors.Unwrap(err))
			}
			if took > time.Second && !tc.blind {
				t.Fatalf("took %v to fail", took)
			}
		})
	}
}

func TestTLSProblem(t *testing.T) {
	t.Parallel()
	transport := func(err error) error {
		return connect.NewError(connect.CodeUnavailable, &url.Error{Op: "Post", URL: "https://om-0:7600/x", Err: err})
	}
	testCases := []struct {
		name string
		err  error
		want bool
	}{
		{"unknown authority", transport(&tls.CertificateVerificationError{Err: x509.UnknownAuthorityError{}}), true},
		{"host name", transport(x509.HostnameError{Host: "om-0"}), true},
		{"expired", transport(x509.CertificateInvalidError{Reason: x509.Expired}), true},
		{"allow-list", transport(fmt.Errorf("tls dial: %w", auth.ErrPermissionDenied)), true},
		{"cleartext server", transport(tls.RecordHeaderError{Msg: "first record does not look like a TLS handshake"}), true},
		{"bad_certificate alert", transport(&net.OpError{Op: "remote error", Err: tls.AlertError(42)}), true},
		{"unknown_ca alert", transport(&net.OpError{Op: "remote error", Err: tls.AlertError(48)}), true},
		{"certificate_required alert over QUIC", transport(tls.AlertError(116)), true},
		{"internal_error alert", transport(&net.OpError{Op: "remote error", Err: tls.AlertError(80)}), false},
		{"connection refused", transport(&net.OpError{Op: "dial", Err: syscall.ECONNREFUSED}), false},
		{"reset", transport(&net.OpError{Op: "read", Err: syscall.ECONNRESET}), false},
		{"server's refusal", connect.NewWireError(connect.CodeUnauthenticated, errors.New("auth: unauthenticated")), false},
	}
	for _, tc := range testCases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := tlsProblem(tc.err); got != tc.want {
				t.Fatalf("tlsProblem(%v) = %v, want %v", tc.err, got, tc.want)
			}
		})
	}
}
