package auth

import (
	"crypto/x509"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rs/zerolog"

	"github.com/snapsync/snapsync/internal/testlog"
	"github.com/snapsync/snapsync/internal/testpki"
)

func TestExposure(t *testing.T) {
	t.Parallel()
	testCases := []struct {
		mode      fs.FileMode
		owner, me uint32
		want      string // "" for none
	}{
		{0o600, 1000, 1000, ""},
		{0o400, 1000, 1000, ""},
		{0o640, 1000, 1000, "group can read it"},
		{0o604, 1000, 1000, "others can read it"},
		{0o644, 1000, 1000, "group and others can read it"},
		{0o600, 1001, 1000, "owned by uid 1001"},
		{0o644, 1001, 1000, "owned by uid 1001"},
		{0o600, 0, 1000, ""},       // root may read everything anyway
		{0o644, 0, 1000, "others"}, // a Kubernetes Secret's default
		{0o620, 1000, 1000, ""},    // writable is another problem; not readable
	}
	for _, tc := range testCases {
		t.Run(fmt.Sprintf("%04o %d of %d", tc.mode, tc.owner, tc.me), func(t *testing.T) {
			t.Parallel()
			got := exposure(tc.mode, tc.owner, tc.me)
			if tc.want == "" && got != "" || !strings.Contains(got, tc.want) {
				t.Fatalf("exposure %q, want %q", got, tc.want)
			}
		})
	}
}

// kubeletSecret lays name out in dir as a kubelet lays out a Secret's key:
// dir/name -> ..data/name, ..data -> ..2026_01_01_00_00_00.1, the file in
// that directory with mode. It returns dir/name.
func kubeletSecret(tb testing.TB, dir, name string, data []byte, mode fs.FileMode) string {
	tb.Helper()
	ts := filepath.Join(dir, "..2026_01_01_00_00_00.1")
	if err := os.MkdirAll(ts, 0o755); err != nil {
		tb.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(ts, name), data, mode); err != nil {
		tb.Fatal(err)
	}
	if err := os.Chmod(filepath.Join(ts, name), mode); err != nil { // past the umask
		tb.Fatal(err)
	}
	if err := os.Symlink(filepath.Base(ts), filepath.Join(dir, "..data")); err != nil && !os.IsExist(err) {
		tb.Fatal(err)
	}
	if err := os.Symlink(filepath.Join("..data", name), filepath.Join(dir, name)); err != nil {
		tb.Fatal(err)
	}
	return filepath.Join(dir, name)
}

// TestSecretFileModes loads keys and tokens whose files others may read:
// one warning at start-up naming the file, its owner and mode, read through
// the symlinks a Kubernetes Secret volume is made of; certificates and CA
// bundles are public and never warned about.
func TestSecretFileModes(t *testing.T) {
	t.Parallel()
	ca := testpki.NewCA(t, "cluster CA")
	certPEM, keyPEM := ca.Issue(t, x509.ExtKeyUsageServerAuth, "localhost")
	token := []byte("secret-token-0123456789abcdef")
	write := func(t *testing.T, path string, data []byte, mode fs.FileMode) string {
		if err := os.WriteFile(path, data, mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(path, mode); err != nil {
			t.Fatal(err)
		}
		return path
	}
	testCases := []struct {
		name      string
		load      func(t *testing.T, dir string, log zerolog.Logger) (warned string) // the file a warning must name; "" for none
		wantOwner int
		wantMode  string
	}{
		{name: "key 0600", load: func(t *testing.T, dir string, log zerolog.Logger) string {
			_, err := NewServerTLS(TLSFiles{Cert: write(t, dir+"/c", certPEM, 0o644), Key: write(t, dir+"/k", keyPEM, 0o600)}, WithLogger(log))
			return must(t, "", err)
		}},
		{name: "key 0640", wantMode: "0640", load: func(t *testing.T, dir string, log zerolog.Logger) string {
			key := write(t, dir+"/k", keyPEM, 0o640)
			_, err := NewServerTLS(TLSFiles{Cert: write(t, dir+"/c", certPEM, 0o644), Key: key}, WithLogger(log))
			return must(t, key, err)
		}},
		{name: "client key 0604", wantMode: "0604", load: func(t *testing.T, dir string, log zerolog.Logger) string {
			key := write(t, dir+"/k", keyPEM, 0o604)
			_, err := NewClientTLS(TLSFiles{Cert: write(t, dir+"/c", certPEM, 0o600), Key: key}, nil, WithLogger(log))
			return must(t, key, err)
		}},
		{name: "kubelet secret 0644", wantMode: "0644", load: func(t *testing.T, dir string, log zerolog.Logger) string {
			key := kubeletSecret(t, dir, "tls.key", keyPEM, 0o644)
			_, err := NewServerTLS(TLSFiles{Cert: kubeletSecret(t, dir, "tls.crt", certPEM, 0o644), Key: key}, WithLogger(log))
			return must(t, key, err)
		}},
		{name: "kubelet secret 0600", load: func(t *testing.T, dir string, log zerolog.Logger) string {
			key := kubeletSecret(t, dir, "tls.key", keyPEM, 0o600)
			_, err := NewServerTLS(TLSFiles{Cert: kubeletSecret(t, dir, "tls.crt", certPEM, 0o644), Key: key}, WithLogger(log))
			return must(t, "", err)
		}},
		{name: "CA bundle 0644", load: func(t *testing.T, dir string, log zerolog.Logger) string {
			_, err := NewClientTLS(TLSFiles{CA: write(t, dir+"/ca", ca.PEM(), 0o644)}, nil, WithLogger(log))
			return must(t, "", err)
		}},
		{name: "token 0644", wantMode: "0644", load: func(t *testing.T, dir string, log zerolog.Logger) string {
			path := write(t, dir+"/token", token, 0o644)
			_, err := LoadToken(path, WithLogger(log))
			return must(t, path, err)
		}},
		{name: "token 0400", load: func(t *testing.T, dir string, log zerolog.Logger) string {
			_, err := LoadToken(write(t, dir+"/token", token, 0o400), WithLogger(log))
			return must(t, "", err)
		}},
		{name: "token of another uid", wantOwner: 4242, wantMode: "0600", load: func(t *testing.T, dir string, log zerolog.Logger) string {
			if os.Getuid() != 0 {
				t.Skip("needs root to give a file away")
			}
			path := write(t, dir+"/token", token, 0o600)
			if err := os.Chown(path, 4242, 4242); err != nil {
				t.Fatal(err)
			}
			_, err := LoadToken(path, WithLogger(log))
			return must(t, path, err)
		}},
	}
	for _, tc := range testCases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var logs testlog.Buffer
			file := tc.load(t, t.TempDir(), zerolog.New(&logs))
			got := logs.String()
			if file == "" {
				if got != "" {
					t.Fatalf("logged:\n%s", got)
				}
				return
			}
			owner := tc.wantOwner
			if owner == 0 {
				owner = os.Getuid()
			}
			for _, want := range []string{`"level":"warn"`, `"file":"` + file + `"`, fmt.Sprintf(`"owner":%d`, owner), `"mode":"` + tc.wantMode + `"`} {
				if !strings.Contains(got, want) {
					t.Fatalf("the warning lacks %s:\n%s", want, got)
				}
			}
			if n := countLevel(got, "warn"); n != 1 {
				t.Fatalf("%d warnings, want 1:\n%s", n, got)
			}
			if strings.Contains(got, pemBody(keyPEM)) || strings.Contains(got, string(token)) {
				t.Fatalf("a secret reached the log:\n%s", got)
			}
		})
	}
}

// must fails tb on err and returns file.
func must(tb testing.TB, file string, err error) string {
	tb.Helper()
	if err != nil {
		tb.Fatal(err)
	}
	return file
}

// TestSecretFileModeOnReload: a key rotated to a mode others may read is
// warned about when it is reloaded; made private again, it is not.
func TestSecretFileModeOnReload(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	ca := testpki.NewCA(t, "cluster CA")
	srv := TLSFiles(ca.Files(t, dir, "server", x509.ExtKeyUsageServerAuth, "localhost"))
	var logs testlog.Buffer
	st, err := NewServerTLS(srv, WithLogger(zerolog.New(&logs)))
	if err != nil {
		t.Fatal(err)
	}
	base := serveGuarded(t, st, &Guard{})
	ct, err := NewClientTLS(TLSFiles{CA: srv.CA}, nil)
	if err != nil {
		t.Fatal(err)
	}
	servedSerial(t, base, ct)
	if n := countLevel(logs.String(), "warn"); n != 0 {
		t.Fatalf("warned about a 0600 key:\n%s", logs.String())
	}
	cert, key := ca.Issue(t, x509.ExtKeyUsageServerAuth, "localhost")
	testpki.WriteFile(t, srv.Cert, cert)
	testpki.WriteFile(t, srv.Key, key)
	if err := os.Chmod(srv.Key, 0o644); err != nil {
		t.Fatal(err)
	}
	for range 5 {
		servedSerial(t, base, ct)
	}
	if got := logs.String(); countLevel(got, "warn") != 1 || !strings.Contains(got, `"mode":"0644"`) {
		t.Fatalf("want one warning about the rotated 0644 key:\n%s", got)
	}
	if err := os.Chmod(srv.Key, 0o600); err != nil { // a chmod alone is a change too
		t.Fatal(err)
	}
	for range 5 {
		servedSerial(t, base, ct)
	}
	if got := logs.String(); countLevel(got, "warn") != 1 || countLevel(got, "info") != 2 {
		t.Fatalf("want the chmod seen as a reload, with no new warning:\n%s", got)
	}
}
