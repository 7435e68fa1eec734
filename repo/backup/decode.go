package backup

import (
	"fmt"

	"github.com/klauspost/compress/zstd"

	snapsyncv1 "github.com/snapsync/snapsync/proto/gen/snapsync/v1"
	"github.com/snapsync/snapsync/verify"
)

// The client package's decodeChunk/newDecoder do the same for installs; they
// are unexported, and client/ is being changed beside this work. Exporting
// them (as client.DecodeChunk and client.NewChunkDecoder) would remove this
// file.

// newDecoder returns a zstd decoder whose output is bounded by chunkSize, so
// a hostile frame cannot make it allocate more.
func newDecoder(chunkSize uint32) (*zstd.Decoder, error) {
	d, err := zstd.NewReader(nil,
		zstd.WithDecoderConcurrency(1),
		zstd.WithDecoderMaxMemory(uint64(chunkSize)),
		zstd.WithDecoderMaxWindow(uint64(max(chunkSize, zstd.MinWindowSize))),
	)
	if err != nil {
		return nil, fmt.Errorf("zstd decoder: %w", err)
	}
	return d, nil
}

// checkChunk returns the raw bytes of a chunk message, which must decode to
// c.Length bytes hashing to c.Digest; buf holds decoded output.
func checkChunk(dec *zstd.Decoder, msg *snapsyncv1.FetchChunksResponse, c verify.Chunk, buf []byte) ([]byte, error) {
	data := msg.GetData()
	switch msg.GetEncoding() {
	case snapsyncv1.Encoding_ENCODING_RAW:
	case snapsyncv1.Encoding_ENCODING_ZSTD:
		out, err := dec.DecodeAll(data, buf[:0])
		if err != nil {
			return nil, fmt.Errorf("%w: chunk %s: zstd: %v", ErrSource, c.Digest.Short(), err)
		}
		data = out
	default:
		return nil, fmt.Errorf("%w: chunk %s: encoding %v", ErrSource, c.Digest.Short(), msg.GetEncoding())
	}
	if len(data) != int(c.Length) {
		return nil, fmt.Errorf("%w: chunk %s: %d bytes, want %d", ErrSource, c.Digest.Short(), len(data), c.Length)
	}
	what := fmt.Sprintf("chunk %d of file %d", msg.GetChunkIndex(), msg.GetFileIndex())
	if err := verify.CheckDigest(what, c.Digest, verify.Sum(data)); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrSource, err)
	}
	return data, nil
}
