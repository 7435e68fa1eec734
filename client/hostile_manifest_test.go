package client

import (
	"context"
	"encoding/binary"
	"errors"
	"path/filepath"
	"testing"

	"github.com/snapsync/snapsync/internal/manifesttest"
	snapsyncv1 "github.com/snapsync/snapsync/proto/gen/snapsync/v1"
	"github.com/snapsync/snapsync/verify"
)

// rawWith serves the default crafted tree after edit, encoded without
// validation.
func rawWith(edit func(m *verify.Manifest)) func() *hostile {
	return func() *hostile {
		m, content := defaultCraft()
		edit(m)
		return &hostile{manifest: manifesttest.EncodeRaw(m), content: content}
	}
}

// patched serves the default tree's encoding after patch.
func patched(patch func(b []byte) []byte) func() *hostile {
	return func() *hostile {
		m, content := defaultCraft()
		return &hostile{manifest: patch(manifesttest.EncodeRaw(m)), content: content}
	}
}

// honestWith serves the default tree with a lying summary or lying pages.
func honestWith(info func(*snapsyncv1.SnapshotInfo), pages func([]byte) []*snapsyncv1.GetManifestResponse) func() *hostile {
	return func() *hostile {
		m, content := defaultCraft()
		return &hostile{manifest: manifesttest.EncodeRaw(m), content: content, info: info, pages: pages}
	}
}

// countAtEnd encodes m (whose last element is a count of zero) with that
// count replaced by n: a manifest claiming n elements it does not hold.
func countAtEnd(m *verify.Manifest, n uint32) []byte {
	b := manifesttest.EncodeRaw(m)
	binary.BigEndian.PutUint32(b[len(b)-4:], n)
	return b
}

// TestHostileManifest serves manifests, summaries and pages that a correct
// server never sends. Each fails the install with a clear error before a
// chunk is asked for; nothing is written outside the staging area and Dest is
// as it was.
func TestHostileManifest(t *testing.T) {
	t.Parallel()
	other := verify.Sum([]byte("another manifest"))
	testCases := []struct {
		name     string
		server   func() *hostile
		minIndex uint64
		want     error
	}{
		{"dot-dot path", rawWith(func(m *verify.Manifest) { m.Files[0].Path = "../x" }), 0, verify.ErrBadPath},
		{"deep dot-dot path", rawWith(func(m *verify.Manifest) { m.Files[1].Path = "d/../../x" }), 0, verify.ErrBadPath},
		{"absolute path", rawWith(func(m *verify.Manifest) { m.Files[0].Path = "/tmp/x" }), 0, verify.ErrBadPath},
		{"backslash path", rawWith(func(m *verify.Manifest) { m.Files[0].Path = `..\x` }), 0, verify.ErrBadPath},
		{"NUL in path", rawWith(func(m *verify.Manifest) { m.Files[0].Path = "a\x00b" }), 0, verify.ErrBadPath},
		{"dot-dot dir", rawWith(func(m *verify.Manifest) { m.Dirs[0].Path = ".." }), 0, verify.ErrBadPath},
		{"duplicate file", rawWith(func(m *verify.Manifest) { m.Files[2].Path = m.Files[1].Path }), 0, verify.ErrBadManifest},
		{"file and dir of one name", rawWith(func(m *verify.Manifest) {
			f := m.Files[1]
			f.Path = "d"
			m.Files = append(m.Files[:1], append([]verify.File{f}, m.Files[1:]...)...)
			m.Files[3].LinkTo = 0
		}), 0, verify.ErrBadManifest},
		{"file below an unlisted dir", rawWith(func(m *verify.Manifest) { m.Dirs = nil }), 0, verify.ErrBadManifest},
		{"file below a file", rawWith(func(m *verify.Manifest) { m.Files[1].Path = "a.sst/b"; m.Files[2].Path = "a.sst/c" }), 0, verify.ErrBadManifest},
		{"file mode beyond permissions", rawWith(func(m *verify.Manifest) { m.Files[0].Mode |= 1 << 31 }), 0, verify.ErrBadManifest},
		{"link to a later file", rawWith(func(m *verify.Manifest) { m.Files[0].LinkTo = 2 }), 0, verify.ErrBadManifest},
		{"link to a link", rawWith(func(m *verify.Manifest) { m.Files[1].LinkTo = 0; m.Files[2].LinkTo = 1 }), 0, verify.ErrBadManifest},
		{"link to itself", rawWith(func(m *verify.Manifest) { m.Files[2].LinkTo = 2 }), 0, verify.ErrBadManifest},
		{"old format version", patched(func(b []byte) []byte { b[7] = '1'; return b }), 0, verify.ErrBadManifest},
		{"chunks do not add up", rawWith(func(m *verify.Manifest) { m.Files[0].Size++ }), 0, verify.ErrBadManifest},
		{"absurd file size", rawWith(func(m *verify.Manifest) { m.Files[0].Size = 1 << 60 }), 0, verify.ErrTooLarge},
		{"negative file size", rawWith(func(m *verify.Manifest) { m.Files[0].Size = -1 }), 0, verify.ErrBadManifest},
		{"chunk longer than the chunk size", rawWith(func(m *verify.Manifest) {
			m.Files[1].Chunks = m.Files[1].Chunks[:1]
			m.Files[1].Chunks[0].Length = 2 * hostileChunk
		}), 0, verify.ErrBadManifest},
		{"zero chunk size", rawWith(func(m *verify.Manifest) { m.ChunkSize = 0 }), 0, verify.ErrBadManifest},
		{"absurd file count", patched(func([]byte) []byte {
			return countAtEnd(&verify.Manifest{ChunkSize: hostileChunk, Meta: verify.Meta{Term: 1, Index: 9}}, 1<<30)
		}), 0, verify.ErrBadManifest},
		{"absurd chunk count", patched(func([]byte) []byte {
			return countAtEnd(&verify.Manifest{ChunkSize: hostileChunk, Meta: verify.Meta{Term: 1, Index: 9},
				Files: []verify.File{{Path: "a", Size: 1 << 40, Mode: 0o644, LinkTo: -1}}}, 1<<28)
		}), 0, verify.ErrBadManifest},
		{"trailing bytes", patched(func(b []byte) []byte { return append(b, 0) }), 0, verify.ErrBadManifest},
		{"not a manifest", patched(func([]byte) []byte { return []byte("<html>hello</html>") }), 0, verify.ErrBadManifest},
		{"ID of other bytes", honestWith(func(i *snapsyncv1.SnapshotInfo) { i.SnapshotId = other[:] }, nil), 0, verify.ErrDigestMismatch},
		{"malformed ID", honestWith(func(i *snapsyncv1.SnapshotInfo) { i.SnapshotId = other[:5] }, nil), 0, verify.ErrBadDigest},
		{"manifest size over the limit", honestWith(func(i *snapsyncv1.SnapshotInfo) { i.ManifestSize = verify.MaxManifestSize + 1 }, nil), 0, ErrServer},
		{"manifest size zero", honestWith(func(i *snapsyncv1.SnapshotInfo) { i.ManifestSize = 0 }, nil), 0, ErrServer},
		{"summary below min index", honestWith(nil, nil), 10, ErrServer},
		{"summary disagrees with manifest", honestWith(func(i *snapsyncv1.SnapshotInfo) { i.Index = 100 }, nil), 10, ErrServer},
		{"page offset skips", honestWith(nil, func(b []byte) []*snapsyncv1.GetManifestResponse {
			p := pagesOf(b, 100)
			p[1].Offset++
			return p
		}), 0, ErrServer},
		{"page offset repeats", honestWith(nil, func(b []byte) []*snapsyncv1.GetManifestResponse {
			p := pagesOf(b, 100)
			return append(p[:2], p[1:]...)
		}), 0, ErrServer},
		{"page total lies", honestWith(nil, func(b []byte) []*snapsyncv1.GetManifestResponse {
			p := pagesOf(b, 100)
			p[2].TotalSize *= 2
			return p
		}), 0, ErrServer},
		{"page past the end", honestWith(nil, func(b []byte) []*snapsyncv1.GetManifestResponse {
			return pagesOf(append(b, make([]byte, 50)...), 100)[:len(b)/100+1]
		}), 0, ErrServer},
		{"empty page", honestWith(nil, func(b []byte) []*snapsyncv1.GetManifestResponse {
			return append([]*snapsyncv1.GetManifestResponse{{TotalSize: uint64(len(b))}}, pagesOf(b, 100)...)
		}), 0, ErrServer},
		{"pages end early", honestWith(nil, func(b []byte) []*snapsyncv1.GetManifestResponse {
			p := pagesOf(b, 100)
			return p[:len(p)-1]
		}), 0, ErrUnavailable},
	}
	for _, tc := range testCases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h := tc.server()
			url := serveHostile(t, h)
			parent := t.TempDir()
			dest := filepath.Join(parent, "db")
			before := oldDest(t, dest)
			outside := outsideStaging(t, parent)
			_, err := Install(context.Background(), url, tc.minIndex, testConfig(t, dest))
			t.Logf("error: %v", err)
			if !errors.Is(err, tc.want) {
				t.Fatalf("error %v, want %v", err, tc.want)
			}
			if errors.Is(tc.want, ErrUnavailable) == errors.Is(err, ErrServer) {
				t.Fatalf("error %v: ErrServer is %v", err, errors.Is(err, ErrServer))
			}
			if n := h.fetches.Load(); n != 0 {
				t.Fatalf("the client asked for chunks %d times", n)
			}
			sameTree(t, before, readTree(t, dest))
			sameTree(t, outside, outsideStaging(t, parent))
		})
	}
}
