package auth

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"connectrpc.com/connect"
	"github.com/rs/zerolog"
	"google.golang.org/protobuf/types/known/emptypb"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/snapsync/snapsync/internal/testlog"
	"github.com/snapsync/snapsync/internal/testpki"
)

const (
	whoProcedure    = "/test.v1.Who/Am"
	exemptProcedure = "/test.v1.Open/Call"
)

// serveGuarded serves, on 127.0.0.1, a procedure that answers the caller's
// identity, behind g, over TLS when st is set (else h2c). It returns the base
// URL.
func serveGuarded(tb testing.TB, st *ServerTLS, g *Guard) string {
	tb.Helper()
	who := func(ctx context.Context, _ *connect.Request[emptypb.Empty]) (*connect.Response[wrapperspb.StringValue], error) {
		return connect.NewResponse(wrapperspb.String(IdentityFrom(ctx))), nil
	}
	mux := http.NewServeMux()
	mux.Handle(whoProcedure, connect.NewUnaryHandler(whoProcedure, who))
	mux.Handle(exemptProcedure, connect.NewUnaryHandler(exemptProcedure, who))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	var p http.Protocols
	p.SetHTTP2(true)
	p.SetUnencryptedHTTP2(true)
	srv := &http.Server{Handler: g.Wrap(mux), Protocols: &p}
	scheme := "http://"
	if st != nil {
		srv.TLSConfig = st.Config()
		ln = tls.NewListener(ln, srv.TLSConfig)
		scheme = "https://"
	}
	go func() { _ = srv.Serve(ln) }() // returns when the test closes it
	tb.Cleanup(func() { _ = srv.Close() })
	return scheme + ln.Addr().String()
}

// call calls procedure at base with a fresh connection over c (nil: h2c)
// and, if set, a bearer token, and returns the identity it answered.
func call(tb testing.TB, base, procedure string, c *ClientTLS, tok *Token) (string, error) {
	tb.Helper()
	var p http.Protocols
	p.SetHTTP2(true)
	p.SetUnencryptedHTTP2(c == nil)
	tr := &http.Transport{Protocols: &p}
	if c != nil {
		tr.DialTLSContext = c.DialTLSContext
	}
	var rt http.RoundTripper = tr
	if tok != nil {
		rt = Bearer(rt, tok)
	}
	hc := &http.Client{Transport: rt}
	defer hc.CloseIdleConnections()
	cl := connect.NewClient[emptypb.Empty, wrapperspb.StringValue](hc, base+procedure, connect.WithGRPC())
	res, err := cl.CallUnary(context.Background(), connect.NewRequest(&emptypb.Empty{}))
	if err != nil {
		return "", err
	}
	return res.Msg.GetValue(), nil
}

func TestGuard(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	ca, rogue := testpki.NewCA(t, "cluster CA"), testpki.NewCA(t, "rogue CA")
	srvFiles := TLSFiles(ca.Files(t, dir, "server", x509.ExtKeyUsageServerAuth, "localhost", "127.0.0.1", "spiffe://cluster/ns/ozone/sa/om-0"))
	good := TLSFiles(ca.Files(t, dir, "om-1", x509.ExtKeyUsageClientAuth, "om-1.om.ozone.svc", "spiffe://cluster/ns/ozone/sa/om-1"))
	other := TLSFiles(ca.Files(t, dir, "om-9", x509.ExtKeyUsageClientAuth, "om-9.om.ozone.svc"))
	forged := TLSFiles(rogue.Files(t, dir, "forged", x509.ExtKeyUsageClientAuth, "om-1.om.ozone.svc"))
	tokenPath := filepath.Join(dir, "token")
	testpki.WriteFile(t, tokenPath, []byte("0123456789abcdef0123456789abcdef\n"))
	wrongPath := filepath.Join(dir, "wrong")
	testpki.WriteFile(t, wrongPath, []byte("ffffffffffffffffffffffffffffffff"))
	tok, err := LoadToken(tokenPath)
	if err != nil {
		t.Fatal(err)
	}
	wrong, err := LoadToken(wrongPath)
	if err != nil {
		t.Fatal(err)
	}
	clientTLS := func(f TLSFiles) *ClientTLS {
		f.CA = srvFiles.CA // trust the cluster CA for the server's certificate
		c, err := NewClientTLS(f, nil)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	noCert := clientTLS(TLSFiles{})

	serverTLS := func(withCA bool) *ServerTLS {
		f := srvFiles
		if !withCA {
			f.CA = ""
		}
		st, err := NewServerTLS(f)
		if err != nil {
			t.Fatal(err)
		}
		return st
	}
	testCases := []struct {
		name      string
		tls       *ServerTLS // nil: h2c
		allow     AllowList
		token     *Token
		client    *ClientTLS
		sendToken *Token
		procedure string
		wantCode  connect.Code // 0: admitted
		wantID    string
	}{
		{name: "tls, no client auth", tls: serverTLS(false), client: noCert},
		{name: "mtls, no client cert", tls: serverTLS(true), client: noCert, wantCode: connect.CodeUnauthenticated},
		{name: "mtls, cert of another CA", tls: serverTLS(true), client: clientTLS(forged), wantCode: connect.CodeUnauthenticated},
		{name: "mtls, cert of the CA", tls: serverTLS(true), client: clientTLS(good), wantID: "spiffe://cluster/ns/ozone/sa/om-1"},
		{name: "allow-list by dns name", tls: serverTLS(true), allow: allowList(t, "om-1.om.ozone.svc"), client: clientTLS(good), wantID: "spiffe://cluster/ns/ozone/sa/om-1"},
		{name: "allow-list by spiffe id", tls: serverTLS(true), allow: allowList(t, "spiffe://cluster/ns/ozone/sa/om-1"), client: clientTLS(good), wantID: "spiffe://cluster/ns/ozone/sa/om-1"},
		{name: "allow-list refuses another peer", tls: serverTLS(true), allow: allowList(t, "om-1.om.ozone.svc"), client: clientTLS(other), wantCode: connect.CodePermissionDenied},
		{name: "allow-list refuses a forged name", tls: serverTLS(true), allow: allowList(t, "om-1.om.ozone.svc"), client: clientTLS(forged), wantCode: connect.CodeUnauthenticated},
		{name: "token missing", token: tok, wantCode: connect.CodeUnauthenticated},
		{name: "token wrong", token: tok, sendToken: wrong, wantCode: connect.CodeUnauthenticated},
		{name: "token right", token: tok, sendToken: tok},
		{name: "token over tls", tls: serverTLS(false), client: noCert, token: tok, sendToken: tok},
		{name: "mtls and token, token missing", tls: serverTLS(true), client: clientTLS(good), token: tok, wantCode: connect.CodeUnauthenticated},
		{name: "exempt path", tls: serverTLS(true), client: noCert, token: tok, procedure: exemptProcedure},
	}
	for _, tc := range testCases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var logs testlog.Buffer
			g := &Guard{Clients: tc.tls, AllowPeers: tc.allow, Token: tc.token, Log: zerolog.New(&logs),
				Exempt: func(p string) bool { return p == exemptProcedure }}
			base := serveGuarded(t, tc.tls, g)
			procedure := whoProcedure
			if tc.procedure != "" {
				procedure = tc.procedure
			}
			id, err := call(t, base, procedure, tc.client, tc.sendToken)
			if tc.wantCode == 0 {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				if id != tc.wantID {
					t.Fatalf("identity %q, want %q", id, tc.wantID)
				}
				return
			}
			if got := connect.CodeOf(err); got != tc.wantCode {
				t.Fatalf("code %v (%v), want %v", got, err, tc.wantCode)
			}
			line := logs.String()
			if !strings.Contains(line, `"audit":"refused"`) || !strings.Contains(line, whoProcedure) {
				t.Fatalf("no audit line for the refusal: %q", line)
			}
			if strings.Contains(line, "0123456789abcdef") || strings.Contains(line, "ffffffff") {
				t.Fatalf("a token reached the log: %q", line)
			}
		})
	}
}

func TestClientVerifiesServer(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	ca, rogue := testpki.NewCA(t, "cluster CA"), testpki.NewCA(t, "rogue CA")
	spiffe := "spiffe://cluster/ns/ozone/sa/om-0"
	real := TLSFiles(ca.Files(t, dir, "server", x509.ExtKeyUsageServerAuth, "om-0.om.ozone.svc", spiffe))
	fake := TLSFiles(rogue.Files(t, dir, "fake", x509.ExtKeyUsageServerAuth, "127.0.0.1", spiffe))
	testCases := []struct {
		name    string
		server  TLSFiles
		allow   AllowList
		wantErr error
	}{
		// The server's certificate names om-0, not the 127.0.0.1 dialled.
		{name: "host name mismatch", server: real, wantErr: x509.HostnameError{}},
		{name: "allow-list instead of host name", server: real, allow: allowList(t, spiffe)},
		{name: "allow-list names another peer", server: real, allow: allowList(t, "spiffe://cluster/ns/ozone/sa/om-2"), wantErr: ErrPermissionDenied},
		{name: "another CA", server: fake, allow: allowList(t, spiffe), wantErr: ErrUnauthenticated},
	}
	for _, tc := range testCases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			st, err := NewServerTLS(TLSFiles{Cert: tc.server.Cert, Key: tc.server.Key})
			if err != nil {
				t.Fatal(err)
			}
			base := serveGuarded(t, st, &Guard{})
			c, err := NewClientTLS(TLSFiles{CA: real.CA}, tc.allow)
			if err != nil {
				t.Fatal(err)
			}
			_, err = call(t, base, whoProcedure, c, nil)
			if tc.wantErr == nil && err != nil {
				t.Fatalf("refused: %v", err)
			}
			var hostErr x509.HostnameError
			if _, ok := tc.wantErr.(x509.HostnameError); ok && !errors.As(err, &hostErr) {
				t.Fatalf("err %v, want a host name mismatch", err)
			}
			if _, ok := tc.wantErr.(x509.HostnameError); !ok && tc.wantErr != nil && !errors.Is(err, tc.wantErr) {
				t.Fatalf("err %v, want %v", err, tc.wantErr)
			}
		})
	}
}
