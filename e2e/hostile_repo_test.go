package e2e

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/snapsync/snapsync/internal/s3test"
	"github.com/snapsync/snapsync/verify"
)

// Hostile repositories: what whoever can write to a repository (or answer
// for its S3 endpoint) can do to the commands that only read it — list,
// verify, restore. Each test checks the verdict, how long it took, the peak
// memory where that is the attack, and that the repository is unchanged.

// hugeEnv, when set, makes TestRepoHugeManifest use a manifest object of
// verify.MaxManifestSize (1 GiB) instead of 300 MiB.
const hugeEnv = "SNAPSYNC_E2E_HUGE"

// TestRepoNonRegular puts a FIFO, a device, a directory or a symlink where
// a directory repository keeps an object: every command ends at once with an
// error naming the object and what it is (a FIFO once hung restore, list and
// verify for good), or, for a listing, reports it.
func TestRepoNonRegular(t *testing.T) {
	t.Parallel()
	fifo := func(p string) error { return syscall.Mkfifo(p, 0o644) }
	device := func(p string) error { return syscall.Mknod(p, syscall.S_IFCHR|0o644, 1<<8|5) } // as /dev/zero
	dir := func(p string) error { return os.Mkdir(p, 0o755) }
	ok, fails := expect{}, func(want ...string) expect { return expect{fail: true, want: want} }
	testCases := []struct {
		name string
		key  func(tb testing.TB, r *hostileRepo) string
		make func(p string) error
		// list, verify, restore
		list, verify, restore func(key string) expect
	}{
		{
			name: "config FIFO", key: func(testing.TB, *hostileRepo) string { return "config" }, make: fifo,
			list:    func(string) expect { return fails("config", "fifo") },
			verify:  func(string) expect { return fails("config", "fifo") },
			restore: func(string) expect { return fails("config", "fifo") },
		},
		{
			name: "chunk FIFO", key: chunkKey, make: fifo,
			list:    func(string) expect { return ok },
			verify:  func(k string) expect { return fails(filepath.Base(k), "fifo") },
			restore: func(k string) expect { return fails(filepath.Base(k), "fifo") },
		},
		{
			name: "chunk device", key: chunkKey, make: device,
			list:    func(string) expect { return ok },
			verify:  func(k string) expect { return fails(filepath.Base(k), "device") },
			restore: func(k string) expect { return fails(filepath.Base(k), "device") },
		},
		{
			name: "chunk directory", key: chunkKey, make: dir,
			list:    func(string) expect { return ok },
			verify:  func(k string) expect { return fails(filepath.Base(k), "directory") },
			restore: func(k string) expect { return fails(filepath.Base(k), "directory") },
		},
		{
			name: "manifest FIFO", key: func(_ testing.TB, r *hostileRepo) string { return "manifests/" + r.id }, make: fifo,
			list:    func(string) expect { return ok },
			verify:  func(k string) expect { return fails(k, "fifo") },
			restore: func(k string) expect { return fails(k, "fifo") },
		},
		{
			name: "index FIFO", key: func(_ testing.TB, r *hostileRepo) string { return "snapshots/" + r.id + ".json" }, make: fifo,
			list:    func(k string) expect { return expect{want: []string{k, "fifo"}} },
			verify:  func(k string) expect { return fails(k, "fifo") },
			restore: func(k string) expect { return fails(k, "fifo") },
		},
	}
	for _, tc := range testCases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := newHostileRepo(t, "dir")
			key := tc.key(t, r)
			r.replace(t, key, tc.make)
			before := repoState(t, r.storage)
			r.check(t, tc.list(key), "list", r.location)
			r.check(t, tc.verify(key), "verify", r.location)
			r.check(t, tc.restore(key), "restore", "--from", r.location, "--dest", filepath.Join(t.TempDir(), "db"))
			if diff := diffState(before, repoState(t, r.storage)); diff != "" {
				t.Errorf("the repository changed: %s", diff)
			}
		})
	}
}

// TestRepoSIGTERM sends SIGTERM to a verify that waits on a read that does
// not end: a FIFO whose writer never writes (a directory repository), and a
// manifest object served at a drip (an S3 endpoint). verify must end within
// two seconds of the signal (or refuse the object before it).
func TestRepoSIGTERM(t *testing.T) {
	t.Parallel()
	t.Run("dir", func(t *testing.T) {
		t.Parallel()
		r := newHostileRepo(t, "dir")
		r.replace(t, "config", func(p string) error { return syscall.Mkfifo(p, 0o644) })
		// Hold the FIFO open for writing, so that a reader waits for data
		// instead of reading its end.
		w, err := os.OpenFile(r.file("config"), os.O_RDWR, 0)
		if err != nil {
			t.Fatal(err)
		}
		defer w.Close()
		sigterm(t, r.env, false, "verify", r.location)
	})
	t.Run("s3", func(t *testing.T) {
		t.Parallel()
		r := newHostileRepo(t, "s3")
		sparse(t, r.file("manifests/"+r.id), 64*mib)
		env := s3Env(r.s3, "http://"+dripProxy(t, r.s3.Endpoint, 16<<10))
		sigterm(t, env, true, "verify", r.location)
	})
}

// sigterm starts the binary, sends it SIGTERM after two seconds and checks
// that it ends within two more; mustWait says it must still be running when
// the signal comes.
func sigterm(t *testing.T, env []string, mustWait bool, args ...string) {
	t.Helper()
	cmd := exec.Command(binary, append(args, "--log-level", "warn")...)
	cmd.Env = append(os.Environ(), env...)
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if mustWait {
			t.Fatalf("%s ended before the signal: %v\n%s", args[0], err, tail(out.String(), 2000))
		}
		if err == nil {
			t.Fatalf("%s succeeded:\n%s", args[0], tail(out.String(), 2000))
		}
		t.Logf("%s refused before the signal: %v; %s", args[0], err, lastOutput(out.String()))
		return
	case <-time.After(2 * time.Second):
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	select {
	case err := <-done:
		t.Logf("%s ended %v after SIGTERM: %v; %s", args[0], time.Since(start).Round(time.Millisecond), err, lastOutput(out.String()))
		if err == nil {
			t.Fatalf("%s succeeded after SIGTERM", args[0])
		}
	case <-time.After(2 * time.Second):
		_ = cmd.Process.Kill() // the verdict is below; Wait reaps it
		<-done
		t.Fatalf("%s still running 2 s after SIGTERM:\n%s", args[0], tail(out.String(), 2000))
	}
}

// TestRepoHugeManifest replaces a snapshot's manifest with a garbage object
// of 300 MiB (1 GiB, verify.MaxManifestSize, with SNAPSYNC_E2E_HUGE set), in
// a directory and on S3: verify and restore refuse it (digest mismatch)
// within garbageRSS, reading it as a stream. An object one byte over the
// limit is refused from its size alone.
func TestRepoHugeManifest(t *testing.T) {
	t.Parallel()
	size := int64(300 * mib)
	if os.Getenv(hugeEnv) != "" {
		size = verify.MaxManifestSize
	}
	for _, kind := range []string{"dir", "s3"} {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			r := newHostileRepo(t, kind)
			key := "manifests/" + r.id
			for _, tc := range []struct {
				size int64
				want string
			}{
				{size, "digest mismatch"},
				{verify.MaxManifestSize + 1, "over the limit"},
			} {
				sparse(t, r.file(key), tc.size)
				before := repoState(t, r.storage)
				for _, args := range [][]string{
					{"verify", r.location},
					{"restore", "--from", r.location, "--dest", filepath.Join(t.TempDir(), "db")},
				} {
					r.measureRefusal(t, tc.size, tc.want, args...)
				}
				if diff := diffState(before, repoState(t, r.storage)); diff != "" {
					t.Errorf("the repository changed: %s", diff)
				}
			}
		})
	}
}

// measureRefusal runs the binary through the RSS wrapper, expects it to fail
// naming want, and checks its peak RSS against garbageRSS.
func (r *hostileRepo) measureRefusal(t *testing.T, size int64, want string, args ...string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	start := time.Now()
	m := runMeasuredEnv(ctx, r.env, filepath.Join(t.TempDir(), "rss"), append(args, "--log-level", "warn")...)
	took := time.Since(start)
	out := m.Stdout + m.Stderr
	t.Logf("%s, manifest of %d bytes: peak RSS %d MiB, %v: %s", args[0], size, m.RSS/mib, took.Round(time.Millisecond), lastOutput(out))
	switch {
	case ctx.Err() != nil:
		t.Fatalf("%s still running after %v", args[0], took)
	case m.Err == nil:
		t.Errorf("%s succeeded with a garbage manifest", args[0])
	case !strings.Contains(strings.ToLower(out), want):
		t.Errorf("%s does not name %q:\n%s", args[0], want, tail(out, 2000))
	}
	if m.RSS > garbageRSS {
		t.Errorf("%s: peak RSS %d MiB, want at most %d MiB", args[0], m.RSS/mib, garbageRSS/mib)
	}
}

// TestRepoMissing runs the read-only commands (and prune) on a location
// that holds no repository: a path that does not exist, an empty directory,
// an empty S3 prefix. Each fails with "no repository at LOCATION" and
// creates nothing.
func TestRepoMissing(t *testing.T) {
	t.Parallel()
	s := s3test.Start(t)
	parent, empty := t.TempDir(), t.TempDir()
	for _, tc := range []struct {
		name, location string
		env            []string
		root           string // what must not change
	}{
		{"absent path", filepath.Join(parent, "typo", "path"), nil, parent},
		{"empty directory", empty, nil, empty},
		{"empty S3 prefix", "s3://" + s.Bucket + "/nothing", s3Env(s, s.URL()), s.Dir},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := repoState(t, tc.root)
			for _, args := range [][]string{
				{"verify", tc.location},
				{"list", tc.location},
				{"list", tc.location, "--json"},
				{"restore", "--from", tc.location, "--dest", filepath.Join(t.TempDir(), "db")},
				{"prune", tc.location, "--keep-last", "1"},
			} {
				res := bounded(t, tc.env, 20*time.Second, args...)
				if res.Err == nil || !strings.Contains(res.Stderr, "no repository at "+tc.location) {
					t.Errorf("%s: %v; want \"no repository at %s\"\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), res.Err, tc.location,
						tail(res.Stdout, 1000), tail(res.Stderr, 1000))
				}
			}
			if diff := diffState(before, repoState(t, tc.root)); diff != "" {
				t.Errorf("something was created: %s", diff)
			}
		})
	}
}

// TestRepoStrays puts what is no snapshot among the index objects: a name
// that does not parse and, in a directory, a symlink to a valid index
// object. list reports each (a warning; a problem in --json) and still lists
// the real snapshot; verify names each and fails. Nothing is skipped silently.
func TestRepoStrays(t *testing.T) {
	t.Parallel()
	for _, kind := range []string{"dir", "s3"} {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			r := newHostileRepo(t, kind)
			stray := "snapshots/notes.txt"
			if err := os.WriteFile(r.file(stray), []byte("not a snapshot"), 0o644); err != nil {
				t.Fatal(err)
			}
			want := map[string]string{stray: "not"}
			if kind == "dir" {
				// A second repository's snapshot, its index object linked
				// into this one.
				other := newHostileRepo(t, "dir")
				link := "snapshots/" + other.id + ".json"
				if err := os.Symlink(other.file(link), r.file(link)); err != nil {
					t.Fatal(err)
				}
				want[link] = "symlink"
			}
			before := repoState(t, r.storage)

			res := bounded(t, r.env, 20*time.Second, "list", r.location, "--json")
			var got listOutput
			if res.Err != nil || json.Unmarshal([]byte(res.Stdout), &got) != nil {
				t.Fatalf("list --json: %v\nstdout:\n%s\nstderr:\n%s", res.Err, tail(res.Stdout, 2000), tail(res.Stderr, 2000))
			}
			if len(got.Snapshots) != 1 || got.Snapshots[0].SnapshotID != r.id {
				t.Errorf("list --json snapshots %+v, want [%s]", got.Snapshots, r.id)
			}
			problems := map[string]string{}
			for _, p := range got.Problems {
				problems[p.Key] = p.Problem
			}
			for key, what := range want {
				if !strings.Contains(strings.ToLower(problems[key]), what) {
					t.Errorf("list --json problems %+v: none for %s naming %q", got.Problems, key, what)
				}
			}
			text := bounded(t, r.env, 20*time.Second, "list", r.location)
			v := bounded(t, r.env, 20*time.Second, "verify", r.location)
			if v.Err == nil {
				t.Errorf("verify succeeded beside strays:\n%s", v.Stdout)
			}
			for key := range want {
				if !strings.Contains(text.Stderr, key) || !strings.Contains(text.Stderr, "warn") {
					t.Errorf("list gives no warning naming %s:\nstderr:\n%s", key, tail(text.Stderr, 2000))
				}
				if !strings.Contains(v.Stdout, key) {
					t.Errorf("verify does not name %s:\nstdout:\n%s", key, tail(v.Stdout, 2000))
				}
			}
			if diff := diffState(before, repoState(t, r.storage)); diff != "" {
				t.Errorf("the repository changed: %s", diff)
			}
		})
	}
}
