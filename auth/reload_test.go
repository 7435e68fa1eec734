package auth

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"connectrpc.com/connect"

	"github.com/snapsync/snapsync/internal/testpki"
)

// servedSerial returns the serial number of the certificate the server at
// base presents on a new connection.
func servedSerial(tb testing.TB, base string, c *ClientTLS) string {
	tb.Helper()
	cfg, err := c.Config("localhost")
	if err != nil {
		tb.Fatal(err)
	}
	conn, err := (&tls.Dialer{Config: cfg}).DialContext(context.Background(), "tcp", base[len("https://"):])
	if err != nil {
		tb.Fatal(err)
	}
	defer conn.Close()
	return conn.(*tls.Conn).ConnectionState().PeerCertificates[0].SerialNumber.String()
}

func TestRotation(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	ca := testpki.NewCA(t, "cluster CA")
	srv := TLSFiles(ca.Files(t, dir, "server", x509.ExtKeyUsageServerAuth, "localhost", "127.0.0.1"))
	st, err := NewServerTLS(srv)
	if err != nil {
		t.Fatal(err)
	}
	base := serveGuarded(t, st, &Guard{Clients: st})
	client := TLSFiles(ca.Files(t, dir, "client", x509.ExtKeyUsageClientAuth, "om-1"))
	ct, err := NewClientTLS(client, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := call(t, base, whoProcedure, ct, nil); err != nil {
		t.Fatalf("before rotation: %v", err)
	}

	t.Run("server certificate", func(t *testing.T) {
		before := servedSerial(t, base, ct)
		c, k := ca.Issue(t, x509.ExtKeyUsageServerAuth, "localhost", "127.0.0.1")
		testpki.WriteFile(t, srv.Key, k)
		testpki.WriteFile(t, srv.Cert, c)
		if after := servedSerial(t, base, ct); after == before {
			t.Fatalf("still serving serial %s after the files changed", before)
		}
	})
	t.Run("half-written file keeps the last good one", func(t *testing.T) {
		before := servedSerial(t, base, ct)
		testpki.WriteFile(t, srv.Cert, []byte("-----BEGIN CERTIFICATE-----\ntorn"))
		if after := servedSerial(t, base, ct); after != before {
			t.Fatalf("serial changed to %s on a torn file", after)
		}
		c, k := ca.Issue(t, x509.ExtKeyUsageServerAuth, "localhost", "127.0.0.1")
		testpki.WriteFile(t, srv.Key, k)
		testpki.WriteFile(t, srv.Cert, c)
	})
	t.Run("client CA bundle", func(t *testing.T) {
		next := testpki.NewCA(t, "next CA")
		nextClient := TLSFiles(next.Files(t, dir, "next-client", x509.ExtKeyUsageClientAuth, "om-1"))
		nextClient.CA = srv.CA
		nc, err := NewClientTLS(nextClient, nil)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := call(t, base, whoProcedure, nc, nil); connect.CodeOf(err) != connect.CodeUnauthenticated {
			t.Fatalf("a certificate of a CA not yet trusted: %v, want UNAUTHENTICATED", err)
		}
		testpki.WriteFile(t, srv.CA, append(append([]byte{}, ca.PEM()...), next.PEM()...))
		if _, err := call(t, base, whoProcedure, nc, nil); err != nil {
			t.Fatalf("after adding its CA to the bundle: %v", err)
		}
	})
}

func TestConfigErrors(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	short := filepath.Join(dir, "short")
	testpki.WriteFile(t, short, []byte("secret\n"))
	spaced := filepath.Join(dir, "spaced")
	testpki.WriteFile(t, spaced, []byte("0123456789 abcdef0123456789"))
	garbage := filepath.Join(dir, "garbage")
	testpki.WriteFile(t, garbage, []byte("not pem"))
	testCases := []struct {
		name string
		do   func() error
	}{
		{"cert without key", func() error { _, err := NewServerTLS(TLSFiles{Cert: garbage}); return err }},
		{"server without cert", func() error { _, err := NewServerTLS(TLSFiles{CA: garbage}); return err }},
		{"server with nothing", func() error { _, err := NewServerTLS(TLSFiles{}); return err }},
		{"unparsable pair", func() error { _, err := NewServerTLS(TLSFiles{Cert: garbage, Key: garbage}); return err }},
		{"unparsable CA", func() error { _, err := NewClientTLS(TLSFiles{CA: garbage}, nil); return err }},
		{"missing CA", func() error { _, err := NewClientTLS(TLSFiles{CA: filepath.Join(dir, "none")}, nil); return err }},
		{"short token", func() error { _, err := LoadToken(short); return err }},
		{"token with a space", func() error { _, err := LoadToken(spaced); return err }},
		{"missing token", func() error { _, err := LoadToken(filepath.Join(dir, "none")); return err }},
	}
	for _, tc := range testCases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			err := tc.do()
			if !errors.Is(err, ErrConfig) {
				t.Fatalf("err %v, want ErrConfig", err)
			}
			if strings.Contains(err.Error(), "\n") {
				t.Fatalf("err %q spans lines; the CLI prints it as its last line", err)
			}
		})
	}
}
