package digestcache

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/snapsync/snapsync/internal/durable"
)

func TestCheckTrusted(t *testing.T) {
	const uid, maxChunks = 1000, 16
	ok := durable.Info{Mode: 0o600, Size: 100, Uid: uid, Nlink: 1}
	for _, tc := range []struct {
		name string
		edit func(*durable.Info)
		bad  bool
	}{
		{"ours", func(*durable.Info) {}, false},
		{"read-only for others", func(i *durable.Info) { i.Mode = 0o644 }, false},
		{"a directory", func(i *durable.Info) { i.Mode = fs.ModeDir | 0o700 }, true},
		{"a FIFO", func(i *durable.Info) { i.Mode = fs.ModeNamedPipe | 0o600 }, true},
		{"too large", func(i *durable.Info) { i.Size = MaxEncodedSize(maxChunks) + 1 }, true},
		{"another owner", func(i *durable.Info) { i.Uid = uid + 1 }, true},
		{"group-writable", func(i *durable.Info) { i.Mode = 0o620 }, true},
		{"world-writable", func(i *durable.Info) { i.Mode = 0o602 }, true},
		{"a second name", func(i *durable.Info) { i.Nlink = 2 }, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			info := ok
			tc.edit(&info)
			err := CheckTrusted(info, uid, maxChunks)
			if got := err != nil; got != tc.bad {
				t.Fatalf("CheckTrusted(%+v) = %v, want refused %v", info, err, tc.bad)
			}
			if err != nil && !errors.Is(err, ErrBad) {
				t.Fatalf("error %v does not wrap ErrBad", err)
			}
		})
	}
}

// TestReadTrusted reads through the filesystem: a symlink is not followed, a
// FIFO does not block, and a file anyone in the group could have written is
// not believed.
func TestReadTrusted(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good")
	if err := os.WriteFile(good, []byte("cache bytes"), 0o600); err != nil {
		t.Fatal(err)
	}
	b, err := ReadTrusted(durable.OS(), good, 16)
	if err != nil || string(b) != "cache bytes" {
		t.Fatalf("ReadTrusted(good) = %q, %v", b, err)
	}
	link := filepath.Join(dir, "link")
	if err := os.Symlink(good, link); err != nil {
		t.Fatal(err)
	}
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	open := filepath.Join(dir, "open")
	if err := os.WriteFile(open, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(open, 0o660); err != nil { // WriteFile's mode is masked by the umask
		t.Fatal(err)
	}
	for _, p := range []string{link, fifo, open} {
		if b, err := ReadTrusted(durable.OS(), p, 16); err == nil {
			t.Errorf("ReadTrusted(%s) = %q, want refused", filepath.Base(p), b)
		}
	}
	if _, err := ReadTrusted(durable.OS(), filepath.Join(dir, "missing"), 16); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing file: %v, want fs.ErrNotExist", err)
	}
}
