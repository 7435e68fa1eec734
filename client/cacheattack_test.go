//go:build linux

package client

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/snapsync/snapsync/chunker"
	"github.com/snapsync/snapsync/internal/digestcache"
	"github.com/snapsync/snapsync/internal/durable"
	"github.com/snapsync/snapsync/internal/testtree"
	"github.com/snapsync/snapsync/server"
	dirsource "github.com/snapsync/snapsync/source/dir"
	"github.com/snapsync/snapsync/verify"
)

// TestLocalAttackDigestCache plants a follower digest cache beside Dest that
// claims the old DB's 000005.sst holds the chunks of the leader's
// 000007.sst (same size, other bytes): believed, the install would hard-link
// 000005.sst in as 000007.sst without reading it. A cache another uid
// wrote, or one anyone could have (mode 0666), is ignored with a warning
// naming its owner and mode: the install hashes the local files, fetches
// the right bytes, and the installed DB is exactly the leader's.
func TestLocalAttackDigestCache(t *testing.T) {
	t.Parallel()
	const size = 3*verify.MinChunkSize + 5
	leaderDir := filepath.Join(t.TempDir(), "checkpoint")
	leaderTree := map[string]string{"CURRENT": "MANIFEST-000009\n", "MANIFEST-000009": "leader manifest",
		"000007.sst": strings.Repeat("L", size)}
	testtree.Write(t, leaderDir, leaderTree)
	src, err := dirsource.New(leaderDir, verify.Meta{Engine: "pebble", Term: 2, Index: 9, CreatedUnixNano: 1})
	if err != nil {
		t.Fatal(err)
	}
	ts := startServer(t, server.Config{Source: src, ChunkSize: verify.MinChunkSize}, "")

	testCases := []struct {
		name  string
		plant func(t *testing.T, s *attackScene, forged string)
		warn  string
	}{{
		name: "written by another uid",
		plant: func(t *testing.T, s *attackScene, forged string) {
			asNobody(t, "cp "+forged+" "+s.cache())
		},
		warn: "owned by uid 65534",
	}, {
		name: "this uid's, mode 0666",
		plant: func(t *testing.T, s *attackScene, forged string) {
			b, err := os.ReadFile(forged)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(s.cache(), b, 0o600); err != nil {
				t.Fatal(err)
			}
			if err := os.Chmod(s.cache(), 0o666); err != nil {
				t.Fatal(err)
			}
		},
		warn: "-rw-rw-rw-",
	}}
	for _, tc := range testCases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := newAttackScene(t)
			oldSST := filepath.Join(s.dest, "000005.sst")
			if err := os.WriteFile(oldSST, []byte(strings.Repeat("O", size)), 0o644); err != nil {
				t.Fatal(err)
			}
			s.old = readTree(t, s.dest)
			tc.plant(t, s, forgeCache(t, s, oldSST, filepath.Join(leaderDir, "000007.sst")))

			var log planLog
			cfg := testConfig(t, s.dest)
			cfg.Logger = log.logger()
			res, err := Install(context.Background(), ts.url, 0, cfg)
			if err != nil {
				t.Fatal(err)
			}
			logged := log.buf.String()
			files, hashed, cached, warned := log.last(t)
			t.Logf("installed: %d bytes fetched, %d reused; plan: %d local files, %d hashed, %d cached",
				res.BytesFetched, res.BytesReused, files, hashed, cached)
			if !warned || !strings.Contains(logged, tc.warn) || cached != 0 {
				t.Errorf("planted cache: warned %v, %d cached; want it ignored with a warning naming %q:\n%s", warned, cached, tc.warn, logged)
			}
			want := readTree(t, leaderDir)
			if got := readTree(t, s.dest); got["000007.sst"] != want["000007.sst"] {
				t.Fatalf("installed 000007.sst holds %.8q..., want %.8q...", got["000007.sst"], want["000007.sst"])
			}
			s.old = want // the new DB, whole; root's files must not have changed either
			s.checkIntact(t)
		})
	}
}

// cache is the follower digest cache of the scene's Dest.
func (s *attackScene) cache() string { return s.area + ".digests" }

// forgeCache writes, where uid 65534 may read it, a well-sealed cache that
// says the file at local holds the chunks of the file at claimed, and
// returns its path.
func forgeCache(tb testing.TB, s *attackScene, local, claimed string) string {
	tb.Helper()
	info, err := durable.Lstat(local)
	if err != nil {
		tb.Fatal(err)
	}
	chunks, _, err := chunker.HashFile(context.Background(), claimed, verify.MinChunkSize)
	if err != nil {
		tb.Fatal(err)
	}
	b := digestcache.Encode(0, map[digestcache.Key]*digestcache.Entry{digestcache.KeyOf(info, verify.MinChunkSize): {Chunks: chunks}})
	p := filepath.Join(filepath.Dir(s.shared), "forged.digests")
	if err := os.WriteFile(p, b, 0o644); err != nil {
		tb.Fatal(err)
	}
	return p
}
