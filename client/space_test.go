//go:build linux

package client

import (
	"context"
	"errors"
	"io/fs"
	"net/http"
	"os"
	"path"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/snapsync/snapsync/internal/durable"
	"github.com/snapsync/snapsync/internal/testdb"
	"github.com/snapsync/snapsync/internal/testlog"
	"github.com/snapsync/snapsync/server"
)

// mountTmpfs mounts a tmpfs of size (e.g. "32m") on a fresh directory until
// the test's end. It skips the test when not root or when mounting is not
// permitted (a container without CAP_SYS_ADMIN).
func mountTmpfs(tb testing.TB, size string) string {
	tb.Helper()
	if os.Geteuid() != 0 {
		tb.Skip("mounting a tmpfs needs root")
	}
	dir := tb.TempDir()
	if err := unix.Mount("tmpfs", dir, "tmpfs", 0, "size="+size+",mode=0755"); err != nil {
		if errors.Is(err, unix.EPERM) {
			tb.Skipf("mount tmpfs on %s: %v (no CAP_SYS_ADMIN here)", dir, err)
		}
		tb.Fatalf("mount tmpfs: %v", err)
	}
	tb.Cleanup(func() {
		if err := unix.Unmount(dir, unix.MNT_DETACH); err != nil {
			tb.Errorf("unmount %s: %v", dir, err)
		}
	})
	return dir
}

// usedBytes is the size of the regular files below root.
func usedBytes(tb testing.TB, root string) int64 {
	tb.Helper()
	var n int64
	err := filepath.WalkDir(root, func(_ string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		info, err := d.Info()
		if err == nil {
			n += info.Size()
		}
		return err
	})
	if err != nil {
		tb.Fatal(err)
	}
	return n
}

// fill writes a file at p until the filesystem is full.
func fill(tb testing.TB, p string) {
	tb.Helper()
	f, err := os.Create(p)
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	buf := make([]byte, 64<<10)
	for {
		if _, err := f.Write(buf); err != nil {
			if !errors.Is(err, unix.ENOSPC) {
				tb.Fatal(err)
			}
			return
		}
	}
}

// TestNoSpaceBeforeFirstByte: a DB larger than the staging filesystem is
// refused before any chunk is fetched, with both figures, and leaves only
// the staging area's small state.
func TestNoSpaceBeforeFirstByte(t *testing.T) {
	t.Parallel()
	disk := mountTmpfs(t, "16m")
	leader := openLeader(t, 32<<20)
	srv, err := server.New(context.Background(), server.Config{Source: leader, WorkDir: filepath.Join(t.TempDir(), "work"),
		ChunkSize: testChunkSize, ReuseWithin: -1, Logger: testlog.Logger(t)})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	serveUntilCleanup(t, ln, srv.Handler())
	t.Cleanup(func() { _ = srv.Close() }) // only its work dir to remove

	cfg := testConfig(t, filepath.Join(disk, "db"))
	_, err = Prepare(context.Background(), "http://"+ln.Addr().String(), 0, cfg)
	var ns *NoSpaceError
	if !errors.Is(err, ErrNoSpace) || !errors.As(err, &ns) {
		t.Fatalf("got %v, want ErrNoSpace with its figures", err)
	}
	t.Logf("refusal: %v", err)
	if !strings.Contains(err.Error(), "not enough free space on "+disk+": the install needs ") || ns.Need <= ns.Free ||
		ns.Headroom != min(int64(16<<20)/20, MaxDefaultFreeSpaceHeadroom) {
		t.Errorf("refusal %q (%+v): want the path, what is needed and what is free, with 5%% headroom", err, *ns)
	}
	if st := srv.Stats(); st.ChunksRaw+st.ChunksZstd != 0 || st.BytesSent != 0 {
		t.Errorf("server sent %d chunks (%d bytes) before the refusal, want none", st.ChunksRaw+st.ChunksZstd, st.BytesSent)
	}
	if used := usedBytes(t, disk); used > 1<<20 {
		t.Errorf("%d bytes written on the staging filesystem, want only the staging area's small state", used)
	}
	if _, err := os.Lstat(cfg.Dest); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("dest: %v, want it untouched (absent)", err)
	}
}

// TestNoSpaceMidInstall: a DB that passes the check but meets a filesystem
// that something else fills during the install fails with ErrNoSpace,
// keeping the old DB and what is staged; once space is freed, a rerun
// resumes.
func TestNoSpaceMidInstall(t *testing.T) {
	t.Parallel()
	disk := mountTmpfs(t, "16m")
	leader := openLeader(t, 8<<20)
	ts := startServer(t, server.Config{Source: leader}, "")
	dest := filepath.Join(disk, "db")
	if err := os.Mkdir(dest, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dest, "OLD"), []byte("the old DB"), 0o644); err != nil {
		t.Fatal(err)
	}
	filler := filepath.Join(disk, "filler")
	cfg := testConfig(t, dest)
	cfg.FreeSpaceHeadroom = NoFreeSpaceHeadroom
	var once sync.Once
	written := 0
	var mu sync.Mutex
	cfg.Hook = func(point string) error {
		if point != "chunk-written" {
			return nil
		}
		mu.Lock()
		defer mu.Unlock()
		if written++; written == 20 {
			once.Do(func() { fill(t, filler) })
		}
		return nil
	}
	_, err := Prepare(context.Background(), ts.url, 0, cfg)
	if !errors.Is(err, ErrNoSpace) {
		t.Fatalf("got %v, want ErrNoSpace", err)
	}
	var ns *NoSpaceError
	if errors.As(err, &ns) {
		t.Fatalf("got the refusal before the first byte (%v), want a failure mid-install", err)
	}
	t.Logf("mid-install failure: %v", err)
	got := readTree(t, dest)
	delete(got, ".")
	if len(got) != 1 || got["OLD"] != "the old DB" {
		t.Fatalf("dest changed: %v", got)
	}
	if _, err := os.Lstat(filepath.Join(disk, ".snapsync-db", "stage")); err != nil {
		t.Fatalf("staging area: %v, want it kept", err)
	}

	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	cfg.Hook = nil
	p, err := Prepare(context.Background(), ts.url, 0, cfg)
	if err != nil {
		t.Fatalf("rerun after freeing space: %v", err)
	}
	if p.BytesReused == 0 || p.AlreadyStaged {
		t.Errorf("rerun reused %d bytes (already staged: %v), want it to resume what was staged", p.BytesReused, p.AlreadyStaged)
	}
}

// rpcCounter counts the calls of each RPC its handler serves.
type rpcCounter struct {
	h     http.Handler
	mu    sync.Mutex
	calls map[string]int
}

func (c *rpcCounter) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	c.mu.Lock()
	c.calls[path.Base(r.URL.Path)]++
	c.mu.Unlock()
	c.h.ServeHTTP(w, r)
}

func (c *rpcCounter) count(rpc string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.calls[rpc]
}

// TestNoSpaceBeforeManifest: a snapshot whose total_bytes (CreateSnapshot's
// answer) cannot fit in the staging filesystem even if every local byte were
// reused is refused before the manifest is fetched: no GetManifest call,
// and nothing but the staging area's lock written.
func TestNoSpaceBeforeManifest(t *testing.T) {
	t.Parallel()
	disk := mountTmpfs(t, "16m")
	leader := openLeader(t, 32<<20)
	srv, err := server.New(context.Background(), server.Config{Source: leader, WorkDir: filepath.Join(t.TempDir(), "work"),
		ChunkSize: testChunkSize, ReuseWithin: -1, Logger: testlog.Logger(t)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Close() }) // only its work dir to remove
	ln, err := listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	rpcs := &rpcCounter{h: srv.Handler(), calls: make(map[string]int)}
	serveUntilCleanup(t, ln, rpcs)

	dest := filepath.Join(disk, "db")
	if err := os.Mkdir(dest, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dest, "OLD"), []byte("the old DB"), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg := testConfig(t, dest)
	_, err = Prepare(context.Background(), "http://"+ln.Addr().String(), 0, cfg)
	var ns *NoSpaceError
	if !errors.Is(err, ErrNoSpace) || !errors.As(err, &ns) {
		t.Fatalf("got %v, want ErrNoSpace with its figures", err)
	}
	t.Logf("refusal: %v; RPCs %v", err, rpcs.calls)
	if n := rpcs.count("CreateSnapshot"); n != 1 {
		t.Errorf("%d CreateSnapshot calls, want 1", n)
	}
	if n := rpcs.count("GetManifest"); n != 0 {
		t.Errorf("%d GetManifest calls before the refusal, want none: CreateSnapshot's total_bytes said it could not fit", n)
	}
	if used := usedBytes(t, disk); used > 1<<10 {
		t.Errorf("%d bytes written on the staging filesystem, want only the old DB and the staging area's lock", used)
	}
	got := readTree(t, dest)
	if delete(got, "."); len(got) != 1 || got["OLD"] != "the old DB" {
		t.Fatalf("dest changed: %v", got)
	}
}

// TestNoSpaceEarlyCountsLocal: the check before the manifest counts what
// the local DB could give: a reinstall of a DB that already fills most of
// the staging filesystem is not refused for its total_bytes, since the
// files it has are linked, not written again.
func TestNoSpaceEarlyCountsLocal(t *testing.T) {
	t.Parallel()
	disk := mountTmpfs(t, "16m")
	leader := openLeader(t, 12<<20)
	ts := startServer(t, server.Config{Source: leader}, "")
	dest := filepath.Join(disk, "db")
	cfg := testConfig(t, dest)
	if _, err := Install(context.Background(), ts.url, 0, cfg); err != nil {
		t.Fatal(err)
	}
	free, _, err := durable.Space(disk)
	if err != nil {
		t.Fatal(err)
	}
	used := usedBytes(t, dest)
	if used+headroom(0, 16<<20) <= free {
		t.Fatalf("the DB (%d bytes) and the headroom fit in the %d bytes free: the test needs a fuller disk", used, free)
	}
	p, err := Install(context.Background(), ts.url, 0, cfg)
	if err != nil {
		t.Fatalf("reinstall of a %d-byte DB with %d bytes free: %v", used, free, err)
	}
	t.Logf("reinstalled a %d-byte DB with %d bytes free: %d fetched, %d reused", used, free, p.BytesFetched, p.BytesReused)
	testdb.CheckSameDB(t, leader.DB(), dest)
}
