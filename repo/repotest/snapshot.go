package repotest

import (
	"bytes"
	"context"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/snapsync/snapsync/chunker"
	"github.com/snapsync/snapsync/repo"
	"github.com/snapsync/snapsync/verify"
)

// chunkSize keeps the data small and the chunks many.
const chunkSize = 64 << 10

// snap is a snapshot made for a test: its manifest and its chunks' bytes.
type snap struct {
	m      *verify.Manifest
	chunks map[verify.Digest][]byte
}

// files returns a checkpoint's files: an incompressible "SST" and a
// compressible "MANIFEST", from seed.
func files(seed uint64, sst, text int) map[string][]byte {
	rng := rand.New(rand.NewPCG(seed, 1))
	raw := make([]byte, sst)
	for i := range raw {
		raw[i] = byte(rng.Uint32())
	}
	var b strings.Builder
	for b.Len() < text {
		b.WriteString("key-")
		b.WriteString(strings.Repeat("v", int(rng.Uint32N(40))))
		b.WriteString(" = value\n")
	}
	return map[string][]byte{"db/000001.sst": raw, "db/MANIFEST-000001": []byte(b.String()[:text])}
}

// makeSnap chunks fs into a snapshot of the given index, made at created.
func makeSnap(tb testing.TB, fs map[string][]byte, index uint64, created time.Time) *snap {
	tb.Helper()
	s := &snap{chunks: make(map[verify.Digest][]byte)}
	m := &verify.Manifest{
		Meta: verify.Meta{Term: 3, Index: index, Engine: "pebble", CreatedUnixNano: created.UnixNano(),
			Labels: map[string]string{"node": "om1"}},
		ChunkSize: chunkSize,
		Dirs:      []verify.Dir{{Path: "db", Mode: 0o755}},
	}
	for path, data := range fs {
		c, err := chunker.New(bytes.NewReader(data), chunkSize)
		if err != nil {
			tb.Fatal(err)
		}
		f := verify.File{Path: path, Size: int64(len(data)), Mode: 0o644, LinkTo: -1}
		for {
			ch, b, err := c.Next()
			if err != nil {
				break
			}
			f.Chunks = append(f.Chunks, ch)
			s.chunks[ch.Digest] = bytes.Clone(b)
		}
		m.Files = append(m.Files, f)
	}
	m.Sort()
	if err := m.Validate(); err != nil {
		tb.Fatal(err)
	}
	s.m = m
	return s
}

// upload puts every chunk of s and its manifest, as a backup does before it
// commits, and returns the ID, the bytes stored and how many chunks were new.
func upload(tb testing.TB, r *repo.Repo, s *snap) (verify.Digest, int64, int) {
	tb.Helper()
	ctx := context.Background()
	var stored int64
	var fresh int
	for d, b := range s.chunks {
		n, err := r.PutChunk(ctx, d, b)
		if err != nil {
			tb.Fatal(err)
		}
		stored += n
		if n > 0 {
			fresh++
		}
	}
	id, err := r.PutManifest(ctx, s.m)
	if err != nil {
		tb.Fatal(err)
	}
	return id, stored, fresh
}

// backup uploads and commits s.
func backup(tb testing.TB, r *repo.Repo, s *snap) verify.Digest {
	tb.Helper()
	id, _, _ := upload(tb, r, s)
	if _, err := r.Commit(context.Background(), id); err != nil {
		tb.Fatal(err)
	}
	return id
}

// ids returns the IDs of infos.
func ids(infos []repo.SnapshotInfo) []verify.Digest {
	out := make([]verify.Digest, len(infos))
	for i, s := range infos {
		out[i] = s.ID
	}
	return out
}
