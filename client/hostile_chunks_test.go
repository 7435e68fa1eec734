package client

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"connectrpc.com/connect"
	"github.com/klauspost/compress/zstd"

	"github.com/snapsync/snapsync/internal/manifesttest"
	snapsyncv1 "github.com/snapsync/snapsync/proto/gen/snapsync/v1"
	"github.com/snapsync/snapsync/verify"
)

type chunkMsg = snapsyncv1.FetchChunksResponse

// eachChunk answers every FetchChunks call with the honest messages passed
// through edit, which returns what to send instead (none, one, several);
// call numbers the calls and k the messages within one, from 0.
func eachChunk(edit func(call int64, k int, msg *chunkMsg) []*chunkMsg) func() *hostile {
	return func() *hostile {
		m, content := defaultCraft()
		h := &hostile{manifest: manifesttest.EncodeRaw(m), content: content}
		h.fetch = func(call int64, req *snapsyncv1.FetchChunksRequest, honest func(uint32, uint32) *chunkMsg, send func(*chunkMsg) error) error {
			k := 0
			return sendHonest(req, honest, func(msg *chunkMsg) error {
				for _, out := range edit(call, k, msg) {
					if err := send(out); err != nil {
						return err
					}
				}
				k++
				return nil
			})
		}
		return h
	}
}

// failing answers every FetchChunks call with err.
func failing(err error) func() *hostile {
	return func() *hostile {
		m, content := defaultCraft()
		h := &hostile{manifest: manifesttest.EncodeRaw(m), content: content}
		h.fetch = func(int64, *snapsyncv1.FetchChunksRequest, func(uint32, uint32) *chunkMsg, func(*chunkMsg) error) error {
			return err
		}
		return h
	}
}

func one(m *chunkMsg) []*chunkMsg { return []*chunkMsg{m} }

// withData returns a copy of m carrying data in encoding enc.
func withData(m *chunkMsg, enc snapsyncv1.Encoding, data []byte) *chunkMsg {
	return &chunkMsg{FileIndex: m.FileIndex, ChunkIndex: m.ChunkIndex, Encoding: enc, Data: data}
}

// streamedZstd compresses b as a stream, so the frame header does not say
// how large the content is.
func streamedZstd(tb testing.TB, b []byte) []byte {
	tb.Helper()
	var buf bytes.Buffer
	enc, err := zstd.NewWriter(&buf)
	if err != nil {
		tb.Fatal(err)
	}
	for off := 0; off < len(b); off += 1 << 20 {
		if _, err := enc.Write(b[off:min(off+1<<20, len(b))]); err != nil {
			tb.Fatal(err)
		}
	}
	if err := enc.Close(); err != nil {
		tb.Fatal(err)
	}
	return buf.Bytes()
}

// TestHostileChunks serves chunk streams a correct server never sends. A
// protocol violation fails the install at once (ErrServer); bytes that do not
// decode or verify are asked for again and fail it after ChunkRetries
// (ErrVerify); streams that keep ending early fail it after MaxAttempts
// (ErrUnavailable); a fault that does not last is retried away. Whatever
// happens, stage/ holds only verified bytes, nothing is written outside the
// staging area, and a failed install leaves Dest as it was.
func TestHostileChunks(t *testing.T) {
	t.Parallel()
	zenc, err := zstd.NewWriter(nil)
	if err != nil {
		t.Fatal(err)
	}
	defer zenc.Close()
	bomb := zenc.EncodeAll(make([]byte, 64<<20), nil)
	streamedBomb := streamedZstd(t, make([]byte, 64<<20))
	garbage := bytes.Repeat([]byte{0x28, 0xb5, 0x2f, 0xfd, 0xff}, 100) // zstd magic, then nonsense
	testCases := []struct {
		name     string
		server   func() *hostile
		want     error // nil: the install succeeds
		mismatch bool  // the error carries a *verify.MismatchError
	}{
		{"file outside the manifest", eachChunk(func(_ int64, _ int, m *chunkMsg) []*chunkMsg {
			m.FileIndex = 7
			return one(m)
		}), ErrServer, false},
		{"link member instead of its leader", eachChunk(func(_ int64, _ int, m *chunkMsg) []*chunkMsg {
			if m.FileIndex == 0 {
				m.FileIndex = 2
			}
			return one(m)
		}), ErrServer, false},
		{"chunk not asked for", eachChunk(func(_ int64, _ int, m *chunkMsg) []*chunkMsg {
			m.ChunkIndex += 100
			return one(m)
		}), ErrServer, false},
		{"chunk sent twice", eachChunk(func(_ int64, _ int, m *chunkMsg) []*chunkMsg { return []*chunkMsg{m, m} }), ErrServer, false},
		{"raw chunk too short", eachChunk(func(_ int64, _ int, m *chunkMsg) []*chunkMsg {
			return one(withData(m, m.Encoding, m.Data[:len(m.Data)-1]))
		}), ErrVerify, false},
		{"raw chunk too long", eachChunk(func(_ int64, _ int, m *chunkMsg) []*chunkMsg {
			return one(withData(m, m.Encoding, append(bytes.Clone(m.Data), 0)))
		}), ErrVerify, false},
		{"wrong bytes", eachChunk(func(_ int64, _ int, m *chunkMsg) []*chunkMsg {
			b := bytes.Clone(m.Data)
			b[len(b)/2] ^= 1
			return one(withData(m, m.Encoding, b))
		}), ErrVerify, true},
		{"zstd of wrong bytes", eachChunk(func(_ int64, _ int, m *chunkMsg) []*chunkMsg {
			b := bytes.Clone(m.Data)
			b[0] ^= 1
			return one(withData(m, snapsyncv1.Encoding_ENCODING_ZSTD, zenc.EncodeAll(b, nil)))
		}), ErrVerify, true},
		{"zstd garbage", eachChunk(func(_ int64, _ int, m *chunkMsg) []*chunkMsg {
			return one(withData(m, snapsyncv1.Encoding_ENCODING_ZSTD, garbage))
		}), ErrVerify, false},
		{"zstd one byte too long", eachChunk(func(_ int64, _ int, m *chunkMsg) []*chunkMsg {
			return one(withData(m, snapsyncv1.Encoding_ENCODING_ZSTD, zenc.EncodeAll(append(bytes.Clone(m.Data), 0), nil)))
		}), ErrVerify, false},
		{"zstd bomb", eachChunk(func(_ int64, _ int, m *chunkMsg) []*chunkMsg {
			return one(withData(m, snapsyncv1.Encoding_ENCODING_ZSTD, bomb))
		}), ErrVerify, false},
		{"streamed zstd bomb", eachChunk(func(_ int64, _ int, m *chunkMsg) []*chunkMsg {
			return one(withData(m, snapsyncv1.Encoding_ENCODING_ZSTD, streamedBomb))
		}), ErrVerify, false},
		{"message over the read limit", eachChunk(func(_ int64, _ int, m *chunkMsg) []*chunkMsg {
			return one(withData(m, m.Encoding, make([]byte, maxMessage+1)))
		}), ErrServer, false},
		{"raw bytes labelled zstd", eachChunk(func(_ int64, _ int, m *chunkMsg) []*chunkMsg {
			return one(withData(m, snapsyncv1.Encoding_ENCODING_ZSTD, m.Data))
		}), ErrVerify, false},
		{"unknown encoding", eachChunk(func(_ int64, _ int, m *chunkMsg) []*chunkMsg {
			return one(withData(m, snapsyncv1.Encoding(7), m.Data))
		}), ErrVerify, false},
		{"streams always end after one chunk", eachChunk(func(_ int64, k int, m *chunkMsg) []*chunkMsg {
			if k > 0 {
				return nil
			}
			return one(m)
		}), nil, false},
		{"streams always empty", eachChunk(func(int64, int, *chunkMsg) []*chunkMsg { return nil }), ErrUnavailable, false},
		{"first stream ends early", eachChunk(func(call int64, k int, m *chunkMsg) []*chunkMsg {
			if call == 0 && k > 0 {
				return nil
			}
			return one(m)
		}), nil, false},
		{"wrong bytes once", eachChunk(func(call int64, k int, m *chunkMsg) []*chunkMsg {
			if call == 0 && k == 0 {
				return one(withData(m, m.Encoding, make([]byte, len(m.Data))))
			}
			return one(m)
		}), nil, false},
		{"invalid argument", failing(connect.NewError(connect.CodeInvalidArgument, errors.New("no"))), ErrServer, false},
		{"not found", failing(connect.NewError(connect.CodeNotFound, errors.New("gone"))), ErrServer, false},
		{"data loss", failing(connect.NewError(connect.CodeDataLoss, errors.New("changed"))), ErrServer, false},
		{"always unavailable", failing(connect.NewError(connect.CodeUnavailable, errors.New("busy"))), ErrUnavailable, false},
		{"always exhausted", failing(connect.NewError(connect.CodeResourceExhausted, errors.New("full"))), ErrUnavailable, false},
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
			cfg := testConfig(t, dest)
			_, err := Install(context.Background(), url, 0, cfg)
			t.Logf("after %d calls: %v", h.fetches.Load(), err)
			m, content := defaultCraft()
			if tc.want == nil {
				if err != nil {
					t.Fatal(err)
				}
				checkCrafted(t, dest, m, content, false)
				return
			}
			if !errors.Is(err, tc.want) {
				t.Fatalf("error %v, want %v", err, tc.want)
			}
			var me *verify.MismatchError
			if errors.As(err, &me) != tc.mismatch {
				t.Fatalf("error %v carries a *verify.MismatchError: %v, want %v", err, !tc.mismatch, tc.mismatch)
			}
			sameTree(t, before, readTree(t, dest))
			sameTree(t, outside, outsideStaging(t, parent))
			checkCrafted(t, filepath.Join(parent, ".snapsync-db", "stage"), m, content, true)
		})
	}
}

// checkCrafted checks the tree at root against a crafted manifest's content:
// every file whole, or with partial, every chunk either its bytes or not yet
// written (zeros) and missing files allowed.
func checkCrafted(tb testing.TB, root string, m *verify.Manifest, content map[int][]byte, partial bool) {
	tb.Helper()
	for i, f := range m.Files {
		got, err := os.ReadFile(filepath.Join(root, filepath.FromSlash(f.Path)))
		switch {
		case partial && errors.Is(err, os.ErrNotExist):
			continue
		case err != nil:
			tb.Fatal(err)
		case !partial && !bytes.Equal(got, content[i]):
			tb.Fatalf("%s differs from the crafted content", f.Path)
		case len(got) != len(content[i]):
			tb.Fatalf("staged %s has %d bytes, want %d", f.Path, len(got), len(content[i]))
		}
		for off := 0; off < len(got); off += hostileChunk {
			c := got[off:min(off+hostileChunk, len(got))]
			if !bytes.Equal(c, content[i][off:off+len(c)]) && len(bytes.Trim(c, "\x00")) != 0 {
				tb.Fatalf("staged %s holds unverified bytes at %d", f.Path, off)
			}
		}
	}
}
