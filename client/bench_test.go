package client

import (
	"context"
	"math/rand/v2"
	"path/filepath"
	"sync/atomic"
	"testing"

	"github.com/klauspost/compress/zstd"

	"github.com/snapsync/snapsync/chunker"
	"github.com/snapsync/snapsync/internal/durable"
	snapsyncv1 "github.com/snapsync/snapsync/proto/gen/snapsync/v1"
	"github.com/snapsync/snapsync/verify"
)

// benchChunks is the number of distinct chunks the benchmark cycles through,
// so the staged file stays small whatever b.N.
const benchChunks = 16

// BenchmarkAcceptChunk measures the hot path of every fetched chunk: decode
// (raw or zstd), hash, compare with the manifest, write into the staged file.
func BenchmarkAcceptChunk(b *testing.B) {
	const size = chunker.DefaultChunkSize
	for _, enc := range []snapsyncv1.Encoding{snapsyncv1.Encoding_ENCODING_RAW, snapsyncv1.Encoding_ENCODING_ZSTD} {
		b.Run(enc.String(), func(b *testing.B) {
			f, jobs, msgs := benchSetup(b, size, enc)
			dec, err := newDecoder(size)
			if err != nil {
				b.Fatal(err)
			}
			defer dec.Close()
			cio := &chunkIO{dec: dec, buf: make([]byte, size), out: f.sink.open()}
			defer cio.out.close()
			ctx := context.Background()
			b.SetBytes(size)
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				k := i % benchChunks
				ok, err := f.accept(ctx, msgs[k], jobs[k], cio)
				if err != nil || !ok {
					b.Fatalf("chunk %d: %v, %v", k, ok, err)
				}
			}
		})
	}
}

// benchSetup stages one file of benchChunks chunks of half-compressible data
// and returns a fetcher ready to accept them, their jobs and their messages.
func benchSetup(b *testing.B, size int, enc snapsyncv1.Encoding) (*fetcher, []*job, []*snapsyncv1.FetchChunksResponse) {
	b.Helper()
	rng := rand.New(rand.NewPCG(3, 3))
	zw, err := zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedFastest))
	if err != nil {
		b.Fatal(err)
	}
	defer zw.Close()
	file := verify.File{Path: "000001.sst", Size: int64(size * benchChunks), Mode: 0o644, LinkTo: -1}
	var jobs []*job
	var msgs []*snapsyncv1.FetchChunksResponse
	for k := range benchChunks {
		data := make([]byte, size)
		for i := range data {
			data[i] = byte(rng.IntN(16)) // about 2:1 under zstd
		}
		d := verify.Sum(data)
		file.Chunks = append(file.Chunks, verify.Chunk{Length: uint32(size), Digest: d})
		jobs = append(jobs, &job{digest: &d, length: uint32(size), targets: []target{{file: 0, chunk: k}}})
		if enc == snapsyncv1.Encoding_ENCODING_ZSTD {
			data = zw.EncodeAll(data, nil)
		}
		msgs = append(msgs, &snapsyncv1.FetchChunksResponse{ChunkIndex: uint32(k), Encoding: enc, Data: data})
	}
	m := &verify.Manifest{ChunkSize: uint32(size), Files: []verify.File{file}}
	root := filepath.Join(b.TempDir(), "stage")
	if err := makeDirs(durable.OS(), root, m); err != nil {
		b.Fatal(err)
	}
	p := &plan{m: m, remaining: make([]atomic.Int64, 1)}
	p.remaining[0].Store(1 << 62) // never complete: nothing to flush
	if err := createFile(durable.OS(), filepath.Join(root, file.Path), file.Size); err != nil {
		b.Fatal(err)
	}
	cfg := &Config{ChunkRetries: 0}
	st := &stager{root: root, fs: durable.OS(), plan: p, ctr: &counters{}, flush: make(chan int)}
	return &fetcher{cfg: cfg, sink: st, ctr: st.ctr, chunkSize: uint32(size)}, jobs, msgs
}
