package e2e

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/snapsync/snapsync/internal/sampledb"
	"github.com/snapsync/snapsync/repo"
	dirbackend "github.com/snapsync/snapsync/repo/dir"
)

// keygen makes a key file with `snapsync repo keygen`.
func keygen(tb testing.TB, name string) string {
	tb.Helper()
	p := filepath.Join(tb.TempDir(), name)
	snapsyncOK(tb, nil, "repo", "keygen", p)
	return p
}

// wantRefused runs the binary and fails the test unless it fails saying want.
func wantRefused(tb testing.TB, env []string, want string, args ...string) {
	tb.Helper()
	r := runSnapsync(context.Background(), env, args...)
	if r.Err == nil || !strings.Contains(r.Stderr, want) {
		tb.Fatalf("snapsync %s: %v, want a refusal saying %q\nstderr:\n%s", strings.Join(args, " "), r.Err, want, tail(r.Stderr, 2000))
	}
}

// TestBackupEncrypted backs a Pebble DB up into an encrypted repository of
// each kind and runs every repository command on it: without the key each
// says the repository is encrypted, with another key "wrong key"; with it,
// restore is exact, a second backup and a prune work, the key rotates, no
// object name holds the snapshot ID, and a flipped byte in a pack fails
// verify and restore by name, never restoring wrong data.
func TestBackupEncrypted(t *testing.T) {
	for _, kind := range repoKinds {
		t.Run(kind.name, func(t *testing.T) {
			t.Parallel()
			location, env := kind.make(t)
			k1, k2 := keygen(t, "k1"), keygen(t, "k2")
			leader := filepath.Join(t.TempDir(), "leader")
			writePebble(t, leader, sampledb.Fill{Seed: 30, Bytes: 8 << 20})
			b := snapsyncOK(t, env, "backup", "--from", "pebble:"+leader, "--to", location, "--key-file", k1, "--json")
			if strings.Contains(b.Stderr, "not encrypted") {
				t.Fatalf("an encrypted backup warned that it is not:\n%s", b.Stderr)
			}
			dest := filepath.Join(t.TempDir(), "db")
			for _, args := range [][]string{{"list", location}, {"verify", location}, {"prune", location, "--keep-last", "1"},
				{"restore", "--from", location, "--dest", dest}} {
				wantRefused(t, env, "is encrypted: pass --key-file", args...)
				wantRefused(t, env, "wrong key", append(args, "--key-file", k2)...)
			}
			restore(t, env, location, dest, "--key-file", k1)
			comparePebble(t, leader, dest)

			writePebble(t, leader, sampledb.Fill{Seed: 31, Bytes: 1 << 20})
			second := runBackup(t, env, "pebble:"+leader, location, "--key-file", k1)
			snapsyncOK(t, env, "prune", location, "--keep-last", "1", "--key-file", k1)
			snapsyncOK(t, env, "repo", "rotate-key", location, "--key-file", k1, "--new-key-file", k2)
			wantRefused(t, env, "wrong key", "verify", location, "--key-file", k1)
			snapsyncOK(t, env, "verify", location, "--key-file", k2)
			if ids := listRepo(t, env, location, "--key-file", k2); len(ids) != 1 || ids[0] != second.SnapshotID {
				t.Fatalf("list after prune: %v, want [%s]", ids, second.SnapshotID)
			}
			be := openBackend(t, location, env)
			for _, key := range objectKeys(t, be, "") {
				if strings.Contains(key, second.SnapshotID) {
					t.Fatalf("%s names the snapshot ID", key)
				}
			}

			bad := largest(t, be, objectKeys(t, be, "packs/"))
			body := readObject(t, be, bad)
			body[len(body)/2] ^= 0x40
			if err := be.Put(context.Background(), bad, bytes.NewReader(body), int64(len(body))); err != nil {
				t.Fatal(err)
			}
			v := runSnapsync(context.Background(), env, "verify", location, "--key-file", k2)
			digest := damagedChunk.FindStringSubmatch(v.Stdout)
			if v.Err == nil || digest == nil || !strings.Contains(v.Stdout, "does not authenticate") {
				t.Fatalf("verify of a damaged encrypted repository: %v\nstdout:\n%s", v.Err, v.Stdout)
			}
			other := filepath.Join(t.TempDir(), "db") // no file of it holds the damaged chunk
			writePebble(t, other, sampledb.Fill{Seed: 32, Bytes: 1 << 20})
			before := treeFiles(t, other)
			wantRefused(t, env, digest[1], "restore", "--from", location, "--dest", other, "--key-file", k2, "--log-level", "warn")
			if diff := sameContent(before, treeFiles(t, other)); diff != "" {
				t.Fatalf("the old DB changed after a refused restore: %s", diff)
			}
		})
	}
}

// TestBackupPlaintextKeys: a plaintext repository (format 2, and format 1)
// refuses a key file; a backup to S3 without one warns once that the
// secrets are stored unencrypted, a backup to a directory does not.
func TestBackupPlaintextKeys(t *testing.T) {
	k := keygen(t, "k")
	leader := filepath.Join(t.TempDir(), "leader")
	writeRandomTree(t, leader, 2<<20)
	for _, kind := range repoKinds {
		t.Run(kind.name, func(t *testing.T) {
			t.Parallel()
			location, env := kind.make(t)
			b := snapsyncOK(t, env, "backup", "--from", "dir:"+leader, "--to", location, "--json")
			want := 0
			if kind.name == "s3" {
				want = 1
			}
			if n := strings.Count(b.Stderr, "the repository is not encrypted"); n != want {
				t.Fatalf("%d warnings that the repository is not encrypted, want %d:\n%s", n, want, b.Stderr)
			}
			wantRefused(t, env, "is not encrypted: drop --key-file", "list", location, "--key-file", k)
			wantRefused(t, env, "is not encrypted: drop --key-file", "backup", "--from", "dir:"+leader, "--to", location, "--key-file", k)
		})
	}
	t.Run("format1", func(t *testing.T) {
		t.Parallel()
		location := filepath.Join(t.TempDir(), "repo")
		be, err := dirbackend.New(location)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := repo.OpenOrCreate(context.Background(), be, &repo.Options{Format: repo.Format1}); err != nil {
			t.Fatal(err)
		}
		wantRefused(t, nil, "format 1 is never encrypted", "verify", location, "--key-file", k)
	})
}
