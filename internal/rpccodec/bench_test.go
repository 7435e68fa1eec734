package rpccodec

import (
	"bytes"
	"testing"

	snapsyncv1 "github.com/snapsync/snapsync/proto/gen/snapsync/v1"
)

const benchChunk = 1 << 20

// BenchmarkUnmarshalChunk: the client's decode of a 1 MiB chunk message into
// a reused buffer (one copy, no allocation).
func BenchmarkUnmarshalChunk(b *testing.B) {
	wire := mustMarshal(b, chunkMsg(7, 42, snapsyncv1.Encoding_ENCODING_RAW, bytes.Repeat([]byte{0xa5}, benchChunk)))
	m := new(snapsyncv1.FetchChunksResponse)
	var c Codec
	b.SetBytes(benchChunk)
	b.ReportAllocs()
	for b.Loop() {
		if err := c.Unmarshal(wire, m); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkMarshalChunkFrame: the server's encode of a 1 MiB raw chunk, read
// from its file straight into the send buffer.
func BenchmarkMarshalChunkFrame(b *testing.B) {
	file := bytes.NewReader(bytes.Repeat([]byte{0x5a}, 4*benchChunk))
	buf := make([]byte, 0, benchChunk+64)
	var c Codec
	b.SetBytes(benchChunk)
	b.ReportAllocs()
	for b.Loop() {
		f := ChunkFrame{FileIndex: 3, ChunkIndex: 2, Encoding: snapsyncv1.Encoding_ENCODING_RAW, From: file, Offset: 2 * benchChunk, Len: benchChunk}
		out, err := c.MarshalAppend(buf[:0], &f)
		if err != nil || len(out) < benchChunk {
			b.Fatal(len(out), err)
		}
	}
}
