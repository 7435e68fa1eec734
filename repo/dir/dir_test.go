package dir_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/snapsync/snapsync/repo"
	"github.com/snapsync/snapsync/repo/dir"
	"github.com/snapsync/snapsync/repo/repotest"
	"github.com/snapsync/snapsync/verify"
)

func TestRepository(t *testing.T) {
	t.Parallel()
	repotest.Run(t, repotest.Harness{
		New: func(t *testing.T) repo.Backend {
			b, err := dir.New(filepath.Join(t.TempDir(), "repo"))
			if err != nil {
				t.Fatal(err)
			}
			return b
		},
		Overwrite: func(t *testing.T, b repo.Backend, key string, data []byte) {
			if err := os.WriteFile(filepath.Join(b.(*dir.Backend).Root(), filepath.FromSlash(key)), data, 0o644); err != nil {
				t.Fatal(err)
			}
		},
	})
}

// TestBackend runs the Backend contract on a temporary directory.
func TestBackend(t *testing.T) {
	t.Parallel()
	repotest.RunBackend(t, func(t *testing.T) repo.Backend {
		b, err := dir.New(filepath.Join(t.TempDir(), "repo"))
		if err != nil {
			t.Fatal(err)
		}
		return b
	})
}

// nonRegular makes, at p, each kind of file a directory repository must
// not read as an object.
var nonRegular = []struct {
	kind string
	make func(p string) error
}{
	{"a FIFO", func(p string) error { return syscall.Mkfifo(p, 0o644) }},
	{"a symlink", func(p string) error { return os.Symlink("/dev/zero", p) }},
	{"a directory", func(p string) error { return os.Mkdir(p, 0o755) }},
	{"a character device", func(p string) error { return syscall.Mknod(p, syscall.S_IFCHR|0o644, 1<<8|5) }}, // as /dev/zero
	{"a socket", func(p string) error {
		l, err := net.Listen("unix", p)
		if err == nil {
			l.(*net.UnixListener).SetUnlinkOnClose(false)
			err = l.Close()
		}
		return err
	}},
}

// TestGetNonRegular puts each kind of file that is no regular file where
// an object should be: Get, ReadAt and Stat refuse it at once with a
// *repo.NotRegularError naming the key and the kind (a FIFO used to block
// Get for good), and List still yields its key for the caller to report.
func TestGetNonRegular(t *testing.T) {
	t.Parallel()
	for _, tc := range nonRegular {
		t.Run(tc.kind, func(t *testing.T) {
			t.Parallel()
			b, err := dir.New(t.TempDir())
			if err != nil {
				t.Fatal(err)
			}
			key := "snapshots/x.json"
			if err := os.MkdirAll(filepath.Join(b.Root(), "snapshots"), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := tc.make(filepath.Join(b.Root(), "snapshots", "x.json")); err != nil {
				if errors.Is(err, syscall.EPERM) {
					t.Skipf("cannot make %s here: %v", tc.kind, err)
				}
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			done := make(chan error, 1)
			go func() {
				rc, err := b.Get(ctx, key)
				if err == nil {
					_, err = io.Copy(io.Discard, io.LimitReader(rc, 1<<20))
					rc.Close()
					if err == nil {
						err = errors.New("Get succeeded")
					}
				}
				done <- err
			}()
			select {
			case err := <-done:
				checkNotRegular(t, "Get", err, key, tc.kind)
			case <-time.After(3 * time.Second):
				t.Fatalf("Get of %s still blocked after 3 s", tc.kind)
			}
			_, _, err = b.Stat(ctx, key)
			checkNotRegular(t, "Stat", err, key, tc.kind)
			err = b.ReadAt(ctx, key, make([]byte, 8), 0)
			checkNotRegular(t, "ReadAt", err, key, tc.kind)
			var keys []string
			for k, err := range b.List(ctx, "snapshots/") {
				if err != nil {
					t.Fatal(err)
				}
				keys = append(keys, k)
			}
			if tc.kind != "a directory" && !slices.Equal(keys, []string{key}) {
				t.Errorf("List = %q, want [%s]", keys, key)
			}
		})
	}
}

func checkNotRegular(t *testing.T, op string, err error, key, kind string) {
	t.Helper()
	var nr *repo.NotRegularError
	if !errors.As(err, &nr) || nr.Key != key || nr.Kind != kind || !errors.Is(err, repo.ErrCorrupt) {
		t.Errorf("%s = %v, want a *repo.NotRegularError naming %s as %s", op, err, key, kind)
	}
	if err != nil && !strings.Contains(err.Error(), key) {
		t.Errorf("%s error %q does not name %s", op, err, key)
	}
}

// TestPutChunkOverNonRegular makes a chunk's file a FIFO in a format-1
// repository (format 2 keeps no file per chunk): the repository
// does not count it as the chunk, and the next backup's PutChunk stores the
// chunk over it, readable again.
func TestPutChunkOverNonRegular(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b, err := dir.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	r, err := repo.OpenOrCreate(ctx, b, &repo.Options{Format: repo.Format1})
	if err != nil {
		t.Fatal(err)
	}
	data := []byte("a chunk")
	d := verify.Sum(data)
	p := filepath.Join(b.Root(), filepath.FromSlash(repo.ChunkKey(d)))
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mkfifo(p, 0o644); err != nil {
		t.Fatal(err)
	}
	if ok, err := r.HasChunk(ctx, d); ok || err != nil {
		t.Fatalf("HasChunk of a FIFO = %v, %v; want false", ok, err)
	}
	if _, err := r.PutChunk(ctx, d, data); err != nil {
		t.Fatal(err)
	}
	if got, err := r.GetChunk(ctx, d, uint32(len(data))); err != nil || !bytes.Equal(got, data) {
		t.Fatalf("GetChunk after PutChunk = %q, %v", got, err)
	}
}
