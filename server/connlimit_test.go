package server

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/snapsync/snapsync/auth"
	"github.com/snapsync/snapsync/internal/connlimit"
	"github.com/snapsync/snapsync/internal/testpki"
)

const testToken = "connlimit-test-token-0123456789"

// serveGated serves an "ok" handler behind a token guard and connlimit.Gate
// on loopback, counting connections against lim, over TLS when cfg is set.
func serveGated(tb testing.TB, lim *connlimit.Limiter, cfg *tls.Config) string {
	tb.Helper()
	path := filepath.Join(tb.TempDir(), "token")
	if err := os.WriteFile(path, []byte(testToken), 0o600); err != nil {
		tb.Fatal(err)
	}
	tok, err := auth.LoadToken(path)
	if err != nil {
		tb.Fatal(err)
	}
	guard := &auth.Guard{Token: tok}
	ok := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "ok") })
	opts := []ServeOption{WithConnLimit(lim, "peer")}
	if cfg != nil {
		opts = append(opts, WithTLS(cfg))
	}
	addr, _ := serveLoopback(tb, connlimit.Gate(guard.Wrap, nil, ok), opts...)
	return addr
}

// TestServeGatedConnections: over HTTP/1.1 and HTTP/2, in the clear and over
// TLS, a call the guard refuses ends its connection, and a call it admits
// makes its connection authenticated and keeps it for the next call.
func TestServeGatedConnections(t *testing.T) {
	t.Parallel()
	ca := testpki.NewCA(t, "test CA")
	cert, roots := ca.TLSCert(t, x509.ExtKeyUsageServerAuth, "127.0.0.1"), ca.Pool()
	testCases := []struct {
		name     string
		tls, h2  bool
		wantProt int // ProtoMajor
	}{
		{"HTTP/1.1", false, false, 1},
		{"h2c", false, true, 2},
		{"HTTP/1.1 over TLS", true, false, 1},
		{"HTTP/2 over TLS", true, true, 2},
	}
	for _, tc := range testCases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			lim, err := connlimit.New(connlimit.Config{Max: 8})
			if err != nil {
				t.Fatal(err)
			}
			var cfg *tls.Config
			scheme := "http"
			if tc.tls {
				cfg = &tls.Config{Certificates: []tls.Certificate{cert}, NextProtos: []string{"h2", "http/1.1"}}
				scheme = "https"
			}
			url := scheme + "://" + serveGated(t, lim, cfg) + "/call"
			var p http.Protocols
			switch {
			case tc.h2 && tc.tls:
				p.SetHTTP2(true)
			case tc.h2:
				p.SetUnencryptedHTTP2(true)
			default:
				p.SetHTTP1(true)
			}
			hc := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{Protocols: &p, TLSClientConfig: &tls.Config{RootCAs: roots}}}
			defer hc.CloseIdleConnections()

			if status, _ := call(t, hc, url, "", tc.wantProt); status != http.StatusUnauthorized {
				t.Fatalf("refused call: status %d", status)
			}
			waitStats(t, lim, func(s connlimit.Stats) bool { return s.Authenticated+s.Unauthenticated == 0 },
				"the refused caller's connection is still open")
			if status, reused := call(t, hc, url, "Bearer "+testToken, tc.wantProt); status != http.StatusOK || reused {
				t.Fatalf("admitted call: status %d, reused %v", status, reused)
			}
			waitStats(t, lim, func(s connlimit.Stats) bool { return s.Authenticated == 1 && s.Unauthenticated == 0 },
				"the admitted caller's connection is not authenticated")
			if status, reused := call(t, hc, url, "Bearer "+testToken, tc.wantProt); status != http.StatusOK || !reused {
				t.Fatalf("second admitted call: status %d, reused %v", status, reused)
			}
		})
	}
}

// call GETs url with the Authorization header authz (if any), checks the
// protocol, and returns the status and whether the connection was reused.
func call(tb testing.TB, hc *http.Client, url, authz string, proto int) (int, bool) {
	tb.Helper()
	var reused bool
	trace := &httptrace.ClientTrace{GotConn: func(i httptrace.GotConnInfo) { reused = i.Reused }}
	req, err := http.NewRequestWithContext(httptrace.WithClientTrace(context.Background(), trace), http.MethodGet, url, nil)
	if err != nil {
		tb.Fatal(err)
	}
	if authz != "" {
		req.Header.Set("Authorization", authz)
	}
	resp, err := hc.Do(req)
	if err != nil {
		tb.Fatal(err)
	}
	defer resp.Body.Close()
	if _, err := io.Copy(io.Discard, resp.Body); err != nil {
		tb.Fatal(err)
	}
	if resp.ProtoMajor != proto {
		tb.Fatalf("served over %s", resp.Proto)
	}
	return resp.StatusCode, reused
}

func waitStats(tb testing.TB, lim *connlimit.Limiter, ok func(connlimit.Stats) bool, msg string) {
	tb.Helper()
	for deadline := time.Now().Add(5 * time.Second); !ok(lim.Stats()); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			tb.Fatalf("%s: %+v", msg, lim.Stats())
		}
	}
}

// TestServeClosesRefusedHTTP1: a caller that keeps its HTTP/1.1 connection
// after a refusal finds it closed by the server.
func TestServeClosesRefusedHTTP1(t *testing.T) {
	t.Parallel()
	lim, err := connlimit.New(connlimit.Config{Max: 8})
	if err != nil {
		t.Fatal(err)
	}
	c, err := net.Dial("tcp", serveGated(t, lim, nil))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := io.WriteString(c, "GET /call HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	if err := c.SetReadDeadline(time.Now().Add(10 * time.Second)); err != nil {
		t.Fatal(err)
	}
	resp, err := io.ReadAll(c) // until the server closes it
	if err != nil {
		t.Fatalf("the server did not close the refused connection: %v", err)
	}
	if head := string(resp); !strings.HasPrefix(head, "HTTP/1.1 401") || !strings.Contains(head, "Connection: close") {
		t.Fatalf("response %q", head)
	}
}
