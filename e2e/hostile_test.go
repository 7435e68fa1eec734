package e2e

import (
	"bytes"
	"context"
	be "encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/klauspost/compress/zstd"

	"github.com/snapsync/snapsync/internal/manifesttest"
	"github.com/snapsync/snapsync/internal/sampledb"
	snapsyncv1 "github.com/snapsync/snapsync/proto/gen/snapsync/v1"
	"github.com/snapsync/snapsync/verify"
)

const (
	kib = 1 << 10
	mib = 1 << 20
)

// hostileCase is one lie a peer tells the real binary.
type hostileCase struct {
	name string
	peer func(tb testing.TB) *hostilePeer
	// want is a fragment of the error the client must name (lower case).
	want string
	// maxRSS bounds the client's peak resident set; 0 means smallRSS.
	maxRSS int64
	// needsStall marks the stalls and drips: they run with
	// `install --stall-timeout 2s` and must fail within 30 s.
	needsStall bool
}

// smallRSS bounds the client against a small hostile peer: the binary's
// baseline, a few chunk buffers and HTTP/2 windows.
const smallRSS = 96 * mib

// garbageRSS is the target against a 1 GiB garbage manifest.
const garbageRSS = 256 * mib

// validChunks is the chunk count of the valid manifest the suite plans
// (2^21; BenchmarkHostileValidAtLimits runs MaxTotalChunks), and validRSS
// what the client may use for it: about 117 live bytes a chunk (manifest
// and plan, 234 MiB) doubled by the garbage collector's slack (GOGC=100),
// plus the runtime. Measured: 413–424 MiB alone, 468 MiB once while the
// whole suite loaded both cores (the collector then runs later in its cycle).
const (
	validChunks = 1 << 21
	validRSS    = 512 * mib
)

// TestHostilePeer runs `snapsync install` against a peer that lies in each
// way listed, and checks that the install fails naming the lie, within its
// memory bound, leaving the old DB byte-identical and nothing outside the
// staging area changed.
func TestHostilePeer(t *testing.T) {
	oldDB := filepath.Join(t.TempDir(), "db")
	writePebble(t, oldDB, sampledb.Fill{Seed: 5, Bytes: 256 * kib})
	for _, tc := range hostileCases() {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			runHostile(t, oldDB, tc)
		})
	}
}

func hostileCases() []hostileCase {
	var cases []hostileCase
	cases = append(cases, pathCases()...)
	cases = append(cases, sizeCases()...)
	cases = append(cases, pageCases()...)
	cases = append(cases, chunkCases()...)
	cases = append(cases, stallCases()...)
	cases = append(cases, hostileCase{name: "valid manifest of 2^21 chunks", peer: validPeer(validChunks, 64),
		want: "permission", maxRSS: validRSS})
	return cases
}

// mutated serves defaultCraft's manifest after mutate, with its real ID.
func mutated(mutate func(m *verify.Manifest)) func(testing.TB) *hostilePeer {
	return func(testing.TB) *hostilePeer {
		m, content := defaultCraft()
		mutate(m)
		return &hostilePeer{manifest: manifesttest.EncodeRaw(m), content: content}
	}
}

// honestPeer serves defaultCraft's manifest, editing its chunks with edit.
func honestPeer(edit func(h *hostilePeer, msg *chunkMsg) []*chunkMsg) func(testing.TB) *hostilePeer {
	return func(testing.TB) *hostilePeer {
		m, content := defaultCraft()
		h := &hostilePeer{manifest: manifesttest.EncodeRaw(m), content: content}
		if edit != nil {
			h.chunk = func(msg *chunkMsg) []*chunkMsg { return edit(h, msg) }
		}
		return h
	}
}

func pathCases() []hostileCase {
	return []hostileCase{
		{name: "absolute path", peer: mutated(func(m *verify.Manifest) { m.Files[1].Path = "/tmp/escape" }), want: "absolute"},
		{name: "dotdot path", peer: mutated(func(m *verify.Manifest) { m.Files[1].Path = "../../escape" }), want: "escapes the tree"},
		{name: "dotdot dir", peer: mutated(func(m *verify.Manifest) { m.Dirs[0].Path = "d/../.." }), want: "not clean"},
		{name: "duplicate path", peer: mutated(func(m *verify.Manifest) { m.Files[1].Path = m.Files[0].Path }), want: "duplicate"},
		{name: "file and dir of one name", peer: mutated(func(m *verify.Manifest) { m.Files[1].Path = "d" }), want: "out of order"},
		{name: "backslash name", peer: mutated(func(m *verify.Manifest) { m.Files[1].Path = `d\..\..\escape` }), want: "backslash"},
		{name: "empty element", peer: mutated(func(m *verify.Manifest) { m.Files[1].Path = "d//b" }), want: "not clean"},
		{name: "NUL in name", peer: mutated(func(m *verify.Manifest) { m.Files[1].Path = "d/b\x00" }), want: "nul"},
		{name: "setuid mode", peer: mutated(func(m *verify.Manifest) { m.Files[1].Mode |= fs.ModeSetuid }), want: "beyond permission bits"},
		{name: "hard link forward", peer: mutated(func(m *verify.Manifest) { m.Files[0].LinkTo = 1 }), want: "links to index"},
	}
}

func sizeCases() []hostileCase {
	return []hostileCase{
		{name: "file bigger than its chunks", peer: mutated(func(m *verify.Manifest) { m.Files[1].Size = 3 * hostileChunk }),
			want: "has 1 chunks, want 3"},
		{name: "file smaller than its chunks", peer: mutated(func(m *verify.Manifest) { m.Files[0].Size = hostileChunk }),
			want: "has 3 chunks, want 1"},
		{name: "one-byte chunks", peer: mutated(func(m *verify.Manifest) {
			m.Files[1].Size, m.Files[1].Chunks = 64, oneByteChunks(64)
		}), want: "has 64 chunks, want 1"},
		{name: "short first chunk", peer: mutated(func(m *verify.Manifest) {
			c := m.Files[0].Chunks
			c[0].Length, c[2].Length = c[2].Length, c[0].Length
		}), want: "chunk 0 is 100 bytes, want 4096"},
		{name: "chunk count 2^32-1", peer: rawPeer(func(m *verify.Manifest) []byte { return withTrailingFile(m, 1<<40, 0xFFFFFFFF) }),
			want: "exceeds limit or remaining input"},
		{name: "chunk count beyond the bytes", peer: rawPeer(func(m *verify.Manifest) []byte { return withTrailingFile(m, 1<<40, 1<<24) }),
			want: "exceeds limit or remaining input"},
		{name: "file count 2^32-1", peer: rawPeer(func(m *verify.Manifest) []byte {
			m.Files = nil
			b := manifesttest.EncodeRaw(m)
			return be.BigEndian.AppendUint32(b[:len(b)-4], 0xFFFFFFFF)
		}), want: "exceeds limit or remaining input"},
		{name: "file of 1 PiB", peer: mutated(func(m *verify.Manifest) { m.Files[1].Size = 1 << 50 }), want: "exceeds limit"},
		{name: "chunk size 1", peer: mutated(func(m *verify.Manifest) { m.ChunkSize = 1 }), want: "chunk size 1 outside"},
	}
}

func pageCases() []hostileCase {
	return []hostileCase{
		{name: "page beyond the end", peer: pagesPeer(func(_ int, b []byte, send pageSend) error {
			if err := sendPages(b, 100, send); err != nil {
				return err
			}
			return send(&snapsyncv1.GetManifestResponse{Offset: uint64(len(b)), Data: []byte("more"), TotalSize: uint64(len(b))})
		}), want: "more than announced"},
		{name: "fewer pages", peer: pagesPeer(func(_ int, b []byte, send pageSend) error {
			return sendPages(b[:len(b)/2], 100, func(p *snapsyncv1.GetManifestResponse) error {
				p.TotalSize = uint64(len(b))
				return send(p)
			})
		}), want: "stream ended early"},
		{name: "pages over the announced size", peer: func(tb testing.TB) *hostilePeer {
			h := mutated(func(*verify.Manifest) {})(tb)
			h.info = func(i *snapsyncv1.SnapshotInfo) { i.ManifestSize = uint64(len(h.manifest)) - 10 }
			h.pages = func(_ int, b []byte, send pageSend) error {
				return sendPages(b, 100, func(p *snapsyncv1.GetManifestResponse) error {
					p.TotalSize = uint64(len(b)) - 10
					return send(p)
				})
			}
			return h
		}, want: "more than announced"},
		{name: "page changes between fetches", peer: pagesPeer(func(call int, b []byte, send pageSend) error {
			if call == 0 { // the first page, then the stream ends: the client asks again
				return send(&snapsyncv1.GetManifestResponse{Data: b[:100], TotalSize: uint64(len(b))})
			}
			c := bytes.Clone(b)
			c[50] ^= 1
			return sendPages(c, 100, send)
		}), want: "digest mismatch on manifest"},
		{name: "page at a wrong offset", peer: pagesPeer(func(_ int, b []byte, send pageSend) error {
			return sendPages(b, 100, func(p *snapsyncv1.GetManifestResponse) error {
				if p.Offset > 0 {
					p.Offset++
				}
				return send(p)
			})
		}), want: "page at offset 101, want 100"},
		{name: "empty page", peer: pagesPeer(func(_ int, b []byte, send pageSend) error {
			return send(&snapsyncv1.GetManifestResponse{TotalSize: uint64(len(b))})
		}), want: "page of 0 bytes"},
		{name: "manifest of another ID", peer: func(tb testing.TB) *hostilePeer {
			h := mutated(func(*verify.Manifest) {})(tb)
			h.info = func(i *snapsyncv1.SnapshotInfo) { i.SnapshotId = bytes.Repeat([]byte{7}, 32) }
			return h
		}, want: "digest mismatch on manifest"},
		{name: "announced size over the limit", peer: func(tb testing.TB) *hostilePeer {
			h := mutated(func(*verify.Manifest) {})(tb)
			h.info = func(i *snapsyncv1.SnapshotInfo) { i.ManifestSize = verify.MaxManifestSize + 1 }
			return h
		}, want: "manifest size"},
		{name: "1 GiB of garbage pages", peer: garbagePeer(verify.MaxManifestSize), want: "digest mismatch on manifest", maxRSS: garbageRSS},
	}
}

func chunkCases() []hostileCase {
	return []hostileCase{
		{name: "chunk of wrong digest", peer: honestPeer(func(_ *hostilePeer, m *chunkMsg) []*chunkMsg {
			m.Data = bytes.Clone(m.Data)
			m.Data[0] ^= 1
			return []*chunkMsg{m}
		}), want: "verification failed"},
		{name: "chunk of wrong length", peer: honestPeer(func(_ *hostilePeer, m *chunkMsg) []*chunkMsg {
			m.Data = m.Data[:len(m.Data)-1]
			return []*chunkMsg{m}
		}), want: "verification failed"},
		{name: "chunk of another file", peer: honestPeer(func(h *hostilePeer, m *chunkMsg) []*chunkMsg {
			m.Data = h.honest(1-m.FileIndex, 0).Data
			return []*chunkMsg{m}
		}), want: "verification failed"},
		{name: "chunk repeated", peer: honestPeer(func(_ *hostilePeer, m *chunkMsg) []*chunkMsg { return []*chunkMsg{m, m} }),
			want: "came twice"},
		{name: "chunk not asked for", peer: honestPeer(func(_ *hostilePeer, m *chunkMsg) []*chunkMsg {
			m.ChunkIndex += 1000
			return []*chunkMsg{m}
		}), want: "not asked for"},
		{name: "zstd bomb declaring 64 MiB", peer: zstdPeer(func() []byte {
			enc, _ := zstd.NewWriter(nil) // nil writer: EncodeAll only; options are valid
			return enc.EncodeAll(make([]byte, 64*mib), nil)
		}), want: "verification failed"},
		{name: "zstd bomb streaming 256 MiB", peer: zstdPeer(func() []byte { return streamedZeros(256 * mib) }), want: "verification failed"},
		{name: "zstd garbage", peer: zstdPeer(func() []byte { return []byte("\x28\xb5\x2f\xfdnot a frame at all") }), want: "verification failed"},
		{name: "unknown encoding", peer: honestPeer(func(_ *hostilePeer, m *chunkMsg) []*chunkMsg {
			m.Encoding = 42
			return []*chunkMsg{m}
		}), want: "verification failed"},
	}
}

func stallCases() []hostileCase {
	var out []hostileCase
	for _, proc := range []string{"CreateSnapshot", "GetManifest", "FetchChunks"} {
		out = append(out,
			hostileCase{name: proc + " never answers", needsStall: true, want: "no progress",
				peer: func(tb testing.TB) *hostilePeer { h := honestPeer(nil)(tb); h.stall = proc; return h }},
			hostileCase{name: proc + " drips a byte a second", needsStall: true, want: "no progress",
				peer: func(tb testing.TB) *hostilePeer { h := honestPeer(nil)(tb); h.drip = proc; return h }},
		)
	}
	return out
}

type pageSend = func(*snapsyncv1.GetManifestResponse) error

// pagesPeer serves defaultCraft's manifest through pages.
func pagesPeer(pages func(call int, b []byte, send pageSend) error) func(testing.TB) *hostilePeer {
	return func(tb testing.TB) *hostilePeer {
		h := mutated(func(*verify.Manifest) {})(tb)
		h.pages = pages
		return h
	}
}

// rawPeer serves the bytes encode makes of defaultCraft's manifest.
func rawPeer(encode func(m *verify.Manifest) []byte) func(testing.TB) *hostilePeer {
	return func(testing.TB) *hostilePeer {
		m, content := defaultCraft()
		return &hostilePeer{manifest: encode(m), content: content}
	}
}

// zstdPeer answers every chunk with the zstd frame frame makes.
func zstdPeer(frame func() []byte) func(testing.TB) *hostilePeer {
	return func(tb testing.TB) *hostilePeer {
		data := frame()
		return honestPeer(func(_ *hostilePeer, m *chunkMsg) []*chunkMsg {
			return []*chunkMsg{{FileIndex: m.FileIndex, ChunkIndex: m.ChunkIndex, Encoding: snapsyncv1.Encoding_ENCODING_ZSTD, Data: data}}
		})(tb)
	}
}

// streamedZeros compresses n zero bytes as a stream, so the frame header
// does not say how large its content is.
func streamedZeros(n int) []byte {
	var buf bytes.Buffer
	enc, _ := zstd.NewWriter(&buf) // default options are valid
	zero := make([]byte, mib)
	for range n / mib {
		_, _ = enc.Write(zero) // writes to a bytes.Buffer do not fail
	}
	_ = enc.Close() // as above
	return buf.Bytes()
}

// garbagePeer announces a manifest of size random bytes under a random ID
// and sends them in 3 MiB pages.
func garbagePeer(size int) func(testing.TB) *hostilePeer {
	return func(testing.TB) *hostilePeer {
		page := make([]byte, 3*mib)
		rng := rand.New(rand.NewPCG(9, 9))
		for i := range page {
			page[i] = byte(rng.Uint32())
		}
		h := &hostilePeer{}
		h.info = func(i *snapsyncv1.SnapshotInfo) {
			i.SnapshotId, i.ManifestSize = bytes.Repeat([]byte{0xab}, 32), uint64(size)
		}
		h.pages = func(_ int, _ []byte, send pageSend) error {
			for off := 0; off < size; off += len(page) {
				p := &snapsyncv1.GetManifestResponse{Offset: uint64(off), Data: page[:min(len(page), size-off)], TotalSize: uint64(size)}
				if err := send(p); err != nil {
					return err
				}
			}
			return nil
		}
		return h
	}
}

// validPeer serves a valid manifest of chunks distinct chunks in files files
// of the smallest chunk size, and refuses every FetchChunks call: what the
// client spends is the manifest and the plan.
func validPeer(chunks, files int) func(testing.TB) *hostilePeer {
	return func(tb testing.TB) *hostilePeer {
		b := validManifest(tb, chunks, files)
		return &hostilePeer{manifest: b, fetchErr: connect.NewError(connect.CodePermissionDenied, errors.New("not for you"))}
	}
}

// validManifest encodes a valid manifest of chunks random chunk digests
// spread over files files in one directory.
func validManifest(tb testing.TB, chunks, files int) []byte {
	tb.Helper()
	return validManifestOf(tb, chunks, files, hostileChunk)
}

// validManifestOf is validManifest with chunks of chunkSize bytes.
func validManifestOf(tb testing.TB, chunks, files int, chunkSize uint32) []byte {
	tb.Helper()
	rng := rand.New(rand.NewPCG(uint64(chunks), uint64(files)))
	m := &verify.Manifest{Meta: verify.Meta{Term: 1, Index: 7, Engine: "pebble"}, ChunkSize: chunkSize,
		Dirs: []verify.Dir{{Path: "db", Mode: 0o755}}}
	all := make([]verify.Chunk, chunks)
	for i := range all {
		be.LittleEndian.PutUint64(all[i].Digest[:], rng.Uint64())
		be.LittleEndian.PutUint64(all[i].Digest[8:], rng.Uint64())
		all[i].Length = chunkSize
	}
	per := chunks / files
	for i := range files {
		f := verify.File{Path: fmt.Sprintf("db/%07d.sst", i), Size: int64(per) * int64(chunkSize), Mode: 0o644, LinkTo: -1}
		f.Chunks = all[i*per : (i+1)*per : (i+1)*per]
		m.Files = append(m.Files, f)
	}
	b, err := m.Encode()
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

func oneByteChunks(n int) []verify.Chunk {
	out := make([]verify.Chunk, n)
	for j := range out {
		out[j] = verify.Chunk{Length: 1, Digest: verify.Sum([]byte{byte(j)})}
	}
	return out
}

// withTrailingFile encodes m plus a last file "z" of size bytes whose chunk
// count says count, followed by no chunks at all.
func withTrailingFile(m *verify.Manifest, size uint64, count uint32) []byte {
	b := manifesttest.EncodeRaw(m)
	countAt := len(b)
	for _, f := range m.Files {
		countAt -= 4 + len(f.Path) + 8 + 4 + 4 + 4 + len(f.Chunks)*(4+verify.DigestSize)
	}
	be.BigEndian.PutUint32(b[countAt-4:], uint32(len(m.Files)+1))
	b = be.BigEndian.AppendUint32(b, 1)
	b = append(b, 'z')
	b = be.BigEndian.AppendUint32(b, 0) // a full entry, not a link
	b = be.BigEndian.AppendUint64(b, size)
	b = be.BigEndian.AppendUint32(b, 0o644)
	return be.BigEndian.AppendUint32(b, count)
}

// runHostile installs from tc's peer over a copy of oldDB and checks the
// verdict, the memory, and that nothing outside the staging area changed.
func runHostile(t *testing.T, oldDB string, tc hostileCase) {
	parent := t.TempDir()
	dest := filepath.Join(parent, "db")
	copyTree(t, oldDB, dest)
	if err := os.WriteFile(filepath.Join(parent, "neighbour"), []byte("left alone"), 0o640); err != nil {
		t.Fatal(err)
	}
	staging := ".snapsync-db"
	before := treeState(t, parent, staging)
	beforeDB := treeFiles(t, dest)
	url := serveHostile(t, tc.peer(t))
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	args := []string{"install", "--from", url, "--dest", dest, "--log-level", "error"}
	if tc.needsStall {
		args = append(args, "--stall-timeout", "2s")
	}
	start := time.Now()
	r := runMeasured(ctx, filepath.Join(t.TempDir(), "rss"), args...)
	took := time.Since(start)
	err, rss := r.Err, r.RSS
	var stderr strings.Builder
	stderr.WriteString(r.Stderr)
	limit := tc.maxRSS
	if limit == 0 {
		limit = smallRSS
	}
	line := "(no stderr)"
	if strings.TrimSpace(r.Stderr) != "" {
		line = lastLine(r.Stderr)
	}
	t.Logf("verdict %q, peak RSS %d MiB, %v", line, rss/mib, took.Round(time.Millisecond))
	switch {
	case ctx.Err() != nil:
		t.Fatalf("install still running after %v; stderr:\n%s", took, tail(stderr.String(), 2000))
	case err == nil:
		t.Fatal("install succeeded against a hostile peer")
	case !strings.Contains(strings.ToLower(stderr.String()), tc.want):
		t.Errorf("stderr does not name %q:\n%s", tc.want, tail(stderr.String(), 2000))
	}
	if rss > limit {
		t.Errorf("peak RSS %d MiB, want at most %d MiB", rss/mib, limit/mib)
	}
	if tc.needsStall && took > 30*time.Second {
		t.Errorf("a stall took %v to fail, want under 30s", took)
	}
	if diff := sameContent(beforeDB, treeFiles(t, dest)); diff != "" {
		t.Errorf("old DB changed: %s", diff)
	}
	if diff := diffState(before, treeState(t, parent, staging)); diff != "" {
		t.Errorf("outside the staging area: %s", diff)
	}
}

// treeState describes every entry under root but skip (the staging area):
// type and permission bits, size, and a regular file's content hash or a
// symlink's target.
func treeState(tb testing.TB, root, skip string) map[string]string {
	tb.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		if rel == skip {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		fi, err := os.Lstat(p)
		if err != nil {
			return err
		}
		desc := fmt.Sprintf("%v %d", fi.Mode(), fi.Size())
		switch {
		case fi.Mode().IsRegular():
			desc += " " + hashFile(tb, p)
		case fi.Mode()&fs.ModeSymlink != 0:
			target, _ := os.Readlink(p) // an unreadable link shows as ""
			desc += " -> " + target
		case fi.IsDir():
			desc = fmt.Sprintf("%v", fi.Mode()) // a directory's size is the filesystem's business
		}
		out[rel] = desc
		return nil
	})
	if err != nil {
		tb.Fatal(err)
	}
	return out
}

// diffState reports the first difference between two treeStates.
func diffState(a, b map[string]string) string {
	for p, d := range a {
		if b[p] != d {
			return fmt.Sprintf("%s was %q, is %q", p, d, b[p])
		}
	}
	for p, d := range b {
		if _, ok := a[p]; !ok {
			return fmt.Sprintf("%s appeared (%s)", p, d)
		}
	}
	return ""
}

// BenchmarkHostileValidAtLimits plans a valid manifest of MaxTotalChunks
// distinct chunks in 4096 files with the real binary and reports its peak
// RSS. The peer refuses every chunk, so what is measured is the manifest and
// the plan.
func BenchmarkHostileValidAtLimits(b *testing.B) {
	oldDB := filepath.Join(b.TempDir(), "db")
	writePebble(b, oldDB, sampledb.Fill{Seed: 5, Bytes: 256 * kib})
	peer := validPeer(verify.MaxTotalChunks, 4096)(b)
	for b.Loop() {
		parent := b.TempDir()
		dest := filepath.Join(parent, "db")
		copyTree(b, oldDB, dest)
		r := runMeasured(context.Background(), filepath.Join(parent, "rss"), "install", "--from", serveHostile(b, peer),
			"--dest", dest, "--log-level", "error")
		if r.Err == nil || !strings.Contains(r.Stderr, "permission") {
			b.Fatalf("want a permission error, got %v:\n%s", r.Err, tail(r.Stderr, 2000))
		}
		b.ReportMetric(float64(r.RSS)/mib, "MiB-peak-RSS")
	}
}
