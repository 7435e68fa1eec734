package e2e

import (
	"context"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/snapsync/snapsync/internal/s3test"
)

// The hostile repository tests' harness: a repository with one snapshot,
// ways to damage it behind the binary's back, and a record of its state.

// hostileRepo is a repository holding one small committed snapshot.
type hostileRepo struct {
	kind     string
	location string   // what the commands take
	env      []string // AWS_* for an S3 repository
	storage  string   // the directory that holds its objects: the repository, or versitygw's
	s3       *s3test.Server
	id       string // the snapshot's ID
}

// newHostileRepo backs a 2 MiB tree up into a fresh repository of kind
// ("dir" or "s3").
func newHostileRepo(t *testing.T, kind string) *hostileRepo {
	t.Helper()
	r := &hostileRepo{kind: kind}
	switch kind {
	case "dir":
		r.location = filepath.Join(t.TempDir(), "repo")
		r.storage = r.location
	case "s3":
		r.s3 = s3test.Start(t)
		r.location = "s3://" + r.s3.Bucket + "/backups"
		r.env = s3Env(r.s3, r.s3.URL())
		r.storage = filepath.Join(r.s3.Dir, r.s3.Bucket, "backups")
	}
	src := filepath.Join(t.TempDir(), "src")
	writeRandomTree(t, src, 2*mib)
	r.id = runBackup(t, r.env, "dir:"+src, r.location).SnapshotID
	return r
}

// s3Env is the environment that points the binary at s's bucket through
// endpoint (the server's URL, or a proxy's).
func s3Env(s *s3test.Server, endpoint string) []string {
	return []string{"AWS_ACCESS_KEY_ID=" + s.AccessKey, "AWS_SECRET_ACCESS_KEY=" + s.SecretKey,
		"AWS_ENDPOINT_URL=" + endpoint, "AWS_REGION=us-east-1"}
}

// file returns the file that holds the object of key.
func (r *hostileRepo) file(key string) string {
	return filepath.Join(r.storage, filepath.FromSlash(key))
}

// aChunk returns the key of one of the repository's packs, where its chunks
// are (format 2).
func (r *hostileRepo) aChunk(tb testing.TB) string {
	tb.Helper()
	var key string
	err := filepath.WalkDir(r.file("packs"), func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() && key == "" {
			rel, _ := filepath.Rel(r.storage, p)
			key = filepath.ToSlash(rel)
		}
		return err
	})
	if err != nil || key == "" {
		tb.Fatalf("no chunk in %s: %v", r.storage, err)
	}
	return key
}

// replace removes the file of key and makes something else in its place.
func (r *hostileRepo) replace(tb testing.TB, key string, make func(p string) error) {
	tb.Helper()
	p := r.file(key)
	if err := os.Remove(p); err != nil {
		tb.Fatal(err)
	}
	if err := make(p); err != nil {
		tb.Fatal(err)
	}
}

// repoState describes every entry below root: type and permission bits,
// and but for a directory size, modification time and a symlink's target.
// Content is not read: a test's sparse gigabyte would cost seconds to hash,
// and nothing here can change content without changing the time. A
// directory's time is left out: restore adds and removes its lock object.
func repoState(tb testing.TB, root string) map[string]string {
	tb.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(root, func(p string, _ fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, err := os.Lstat(p)
		if err != nil {
			return err
		}
		desc := fmt.Sprintf("%v %d %d", fi.Mode(), fi.Size(), fi.ModTime().UnixNano())
		if fi.IsDir() {
			desc = fmt.Sprintf("%v", fi.Mode())
		}
		if fi.Mode()&fs.ModeSymlink != 0 {
			target, _ := os.Readlink(p) // an unreadable link shows as ""
			desc += " -> " + target
		}
		rel, _ := filepath.Rel(root, p)
		out[rel] = desc
		return nil
	})
	if err != nil {
		tb.Fatal(err)
	}
	return out
}

// bounded runs the binary and fails the test if it runs longer than limit.
func bounded(tb testing.TB, env []string, limit time.Duration, args ...string) runResult {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	start := time.Now()
	r := runSnapsync(ctx, env, args...)
	if ctx.Err() != nil {
		tb.Fatalf("snapsync %s still running after %v (killed)\nstdout:\n%s\nstderr:\n%s",
			strings.Join(args, " "), time.Since(start).Round(time.Millisecond), tail(r.Stdout, 2000), tail(r.Stderr, 2000))
	}
	return r
}

// expect is what one command must do: fail or not, and name each fragment
// (lower case) in its output.
type expect struct {
	fail bool
	want []string
}

// check runs `snapsync cmd...` against r and compares with e.
func (r *hostileRepo) check(t *testing.T, e expect, args ...string) {
	t.Helper()
	res := bounded(t, r.env, 20*time.Second, append(args, "--log-level", "warn")...)
	out := strings.ToLower(res.Stdout + res.Stderr)
	t.Logf("%s: %v; %s", args[0], res.Err, lastOutput(res.Stdout+res.Stderr))
	switch {
	case e.fail && res.Err == nil:
		t.Errorf("%s succeeded\nstdout:\n%s\nstderr:\n%s", args[0], tail(res.Stdout, 2000), tail(res.Stderr, 2000))
	case !e.fail && res.Err != nil:
		t.Errorf("%s: %v\nstdout:\n%s\nstderr:\n%s", args[0], res.Err, tail(res.Stdout, 2000), tail(res.Stderr, 2000))
	}
	for _, w := range e.want {
		if !strings.Contains(out, w) {
			t.Errorf("%s does not name %q:\nstdout:\n%s\nstderr:\n%s", args[0], w, tail(res.Stdout, 2000), tail(res.Stderr, 2000))
		}
	}
}

func chunkKey(tb testing.TB, r *hostileRepo) string { return r.aChunk(tb) }

// sparse replaces the file at p with a sparse file of size zero bytes: an
// object of that size that costs no disk and no time to write.
func sparse(tb testing.TB, p string, size int64) {
	tb.Helper()
	if err := os.Remove(p); err != nil {
		tb.Fatal(err)
	}
	f, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	if err := f.Truncate(size); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = os.Remove(p) }) // its directory goes with the test; this is only early
}

// lastOutput returns the last line of a command's output, or says there
// was none.
func lastOutput(s string) string {
	if strings.TrimSpace(s) == "" {
		return "(no output)"
	}
	return lastLine(s)
}

// dripProxy forwards TCP to target, sending the answers back at rate bytes
// a second, and returns its address.
func dripProxy(tb testing.TB, target string, rate int) string {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	var mu sync.Mutex
	var conns []net.Conn
	track := func(c net.Conn) {
		mu.Lock()
		defer mu.Unlock()
		conns = append(conns, c)
	}
	tb.Cleanup(func() {
		_ = ln.Close() // ends the accept loop
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			_ = c.Close() // ends its copies
		}
	})
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			up, err := net.Dial("tcp", target)
			if err != nil {
				_ = c.Close() // the client sees the refusal
				continue
			}
			track(c)
			track(up)
			go func() { _, _ = io.Copy(up, c) }() // ends when either side closes
			go dripCopy(c, up, rate)
		}
	}()
	return ln.Addr().String()
}

// dripCopy copies src to dst in pieces of rate/16 bytes, 16 a second.
func dripCopy(dst io.Writer, src io.Reader, rate int) {
	buf := make([]byte, max(rate/16, 1))
	for {
		n, err := src.Read(buf)
		if n > 0 {
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
			time.Sleep(time.Second / 16)
		}
		if err != nil {
			return
		}
	}
}

// listOutput mirrors `snapsync list --json`.
type listOutput struct {
	Snapshots []struct {
		SnapshotID string `json:"snapshot_id"`
	} `json:"snapshots"`
	Problems []struct {
		Key     string `json:"key"`
		Problem string `json:"problem"`
	} `json:"problems"`
}
