package auth

import (
	"crypto/x509"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rs/zerolog"

	"github.com/snapsync/snapsync/internal/testlog"
	"github.com/snapsync/snapsync/internal/testpki"
)

// countLevel counts the log lines of level in logs (zerolog JSON).
func countLevel(logs, level string) int {
	return strings.Count(logs, `"level":"`+level+`"`)
}

// pemBody returns a line from the middle of a PEM block: key material that
// must never reach a log.
func pemBody(b []byte) string { return strings.Split(string(b), "\n")[1] }

// reloadCase is a reloaded file in use: corrupt spoils it, fix writes a new
// good one, use does what reads it (a handshake, a token check), secrets are
// what must not reach the log.
type reloadCase struct {
	file         string
	corrupt, fix func()
	use          func()
	secrets      []string
}

// TestReloadFailureLoggedOnce spoils each kind of reloaded file and uses it
// many times: the failure is logged once, at warn, with the file and the
// error and no key material; the next good file is logged once at info; a
// second spoiling is logged again.
func TestReloadFailureLoggedOnce(t *testing.T) {
	t.Parallel()
	testCases := []struct {
		name  string
		setup func(t *testing.T, dir string, log zerolog.Logger) reloadCase
	}{
		{"server certificate", func(t *testing.T, dir string, log zerolog.Logger) reloadCase {
			ca := testpki.NewCA(t, "cluster CA")
			srv := TLSFiles(ca.Files(t, dir, "server", x509.ExtKeyUsageServerAuth, "localhost"))
			st, err := NewServerTLS(srv, WithLogger(log))
			if err != nil {
				t.Fatal(err)
			}
			base := serveGuarded(t, st, &Guard{})
			ct, err := NewClientTLS(TLSFiles{CA: srv.CA}, nil)
			if err != nil {
				t.Fatal(err)
			}
			key, _ := os.ReadFile(srv.Key)
			return reloadCase{file: srv.Cert, secrets: []string{pemBody(key)},
				corrupt: func() { testpki.WriteFile(t, srv.Cert, []byte("-----BEGIN CERTIFICATE-----\ntorn")) },
				fix: func() {
					cert, k := ca.Issue(t, x509.ExtKeyUsageServerAuth, "localhost")
					testpki.WriteFile(t, srv.Key, k)
					testpki.WriteFile(t, srv.Cert, cert)
				},
				use: func() { servedSerial(t, base, ct) }}
		}},
		{"client key", func(t *testing.T, dir string, log zerolog.Logger) reloadCase {
			ca := testpki.NewCA(t, "cluster CA")
			srv := TLSFiles(ca.Files(t, dir, "server", x509.ExtKeyUsageServerAuth, "127.0.0.1"))
			st, err := NewServerTLS(srv)
			if err != nil {
				t.Fatal(err)
			}
			base := serveGuarded(t, st, &Guard{Clients: st})
			cl := TLSFiles(ca.Files(t, dir, "client", x509.ExtKeyUsageClientAuth, "om-1"))
			cl.CA = srv.CA
			ct, err := NewClientTLS(cl, nil, WithLogger(log))
			if err != nil {
				t.Fatal(err)
			}
			key, _ := os.ReadFile(cl.Key)
			return reloadCase{file: cl.Key, secrets: []string{pemBody(key), "garbage-key-bytes"},
				// A key that does not match the certificate: what a rotation
				// caught between its two renames looks like.
				corrupt: func() { _, k := ca.Issue(t, x509.ExtKeyUsageClientAuth, "om-1"); testpki.WriteFile(t, cl.Key, k) },
				fix: func() {
					cert, k := ca.Issue(t, x509.ExtKeyUsageClientAuth, "om-1")
					testpki.WriteFile(t, cl.Key, k)
					testpki.WriteFile(t, cl.Cert, cert)
				},
				use: func() {
					if _, err := call(t, base, whoProcedure, ct, nil); err != nil {
						t.Fatal(err)
					}
				}}
		}},
		{"CA bundle", func(t *testing.T, dir string, log zerolog.Logger) reloadCase {
			ca := testpki.NewCA(t, "cluster CA")
			srv := TLSFiles(ca.Files(t, dir, "server", x509.ExtKeyUsageServerAuth, "localhost"))
			st, err := NewServerTLS(TLSFiles{Cert: srv.Cert, Key: srv.Key})
			if err != nil {
				t.Fatal(err)
			}
			base := serveGuarded(t, st, &Guard{})
			ct, err := NewClientTLS(TLSFiles{CA: srv.CA}, nil, WithLogger(log))
			if err != nil {
				t.Fatal(err)
			}
			return reloadCase{file: srv.CA,
				corrupt: func() { testpki.WriteFile(t, srv.CA, []byte("not pem")) },
				fix:     func() { testpki.WriteFile(t, srv.CA, ca.PEM()) },
				use:     func() { servedSerial(t, base, ct) }}
		}},
		{"token", func(t *testing.T, dir string, log zerolog.Logger) reloadCase {
			path := filepath.Join(dir, "token")
			testpki.WriteFile(t, path, []byte("first-secret-token-0123456789\n"))
			tok, err := LoadToken(path, WithLogger(log))
			if err != nil {
				t.Fatal(err)
			}
			return reloadCase{file: path, secrets: []string{"first-secret-token", "second-secret-token", "short-secret"},
				corrupt: func() { testpki.WriteFile(t, path, []byte("short-secret")) },
				fix:     func() { testpki.WriteFile(t, path, []byte("second-secret-token-0123456789")) },
				use:     func() { tok.Check("Bearer x") }}
		}},
	}
	for _, tc := range testCases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var logs testlog.Buffer
			c := tc.setup(t, t.TempDir(), zerolog.New(&logs))
			c.use()
			c.corrupt()
			for range 20 {
				c.use()
			}
			got := logs.String()
			if n := countLevel(got, "warn"); n != 1 {
				t.Fatalf("%d warnings after 20 uses of a spoiled file, want 1:\n%s", n, got)
			}
			if !strings.Contains(got, c.file) || !strings.Contains(got, `"error":`) {
				t.Fatalf("the warning does not name the file %s and the error:\n%s", c.file, got)
			}
			c.fix()
			for range 5 {
				c.use()
			}
			got = logs.String()
			if n := countLevel(got, "info"); n != 1 || !strings.Contains(got, "reloaded") {
				t.Fatalf("%d info lines after a good file, want 1 saying reloaded:\n%s", n, got)
			}
			c.corrupt()
			for range 5 {
				c.use()
			}
			got = logs.String()
			if n := countLevel(got, "warn"); n != 2 {
				t.Fatalf("%d warnings after a second spoiled file, want 2:\n%s", n, got)
			}
			for _, s := range c.secrets {
				if strings.Contains(got, s) {
					t.Fatalf("secret %q reached the log:\n%s", s, got)
				}
			}
		})
	}
}
