package client

import (
	"errors"
	"fmt"

	"github.com/klauspost/compress/zstd"

	snapsyncv1 "github.com/snapsync/snapsync/proto/gen/snapsync/v1"
	"github.com/snapsync/snapsync/verify"
)

// errBadChunk reports chunk bytes that do not decode to the manifest's
// length; like a digest mismatch, the chunk is fetched again.
var errBadChunk = errors.New("bad chunk encoding")

// newDecoder returns a zstd decoder whose output is bounded by chunkSize,
// so a hostile frame cannot make it allocate more (docs/DESIGN.md invariant 5).
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

// decodeChunk returns the raw bytes of a chunk message (raw, or one zstd
// frame) that must decode to exactly length bytes; buf (of at least length
// bytes) holds decoded output. The bytes are not yet verified.
func decodeChunk(dec *zstd.Decoder, enc snapsyncv1.Encoding, data []byte, length uint32, buf []byte) ([]byte, error) {
	switch enc {
	case snapsyncv1.Encoding_ENCODING_RAW:
		if len(data) != int(length) {
			return nil, fmt.Errorf("%w: raw chunk of %d bytes, want %d", errBadChunk, len(data), length)
		}
		return data, nil
	case snapsyncv1.Encoding_ENCODING_ZSTD:
		out, err := dec.DecodeAll(data, buf[:0])
		if err != nil {
			return nil, fmt.Errorf("%w: zstd: %v", errBadChunk, err)
		}
		if len(out) != int(length) {
			return nil, fmt.Errorf("%w: zstd chunk decodes to %d bytes, want %d", errBadChunk, len(out), length)
		}
		return out, nil
	}
	return nil, fmt.Errorf("%w: encoding %v", errBadChunk, enc)
}

// checkChunk decodes and verifies a chunk against the manifest's digest
// before anything is written (docs/DESIGN.md invariant 1).
func checkChunk(dec *zstd.Decoder, msg *snapsyncv1.FetchChunksResponse, j *job, buf []byte) ([]byte, error) {
	data, err := decodeChunk(dec, msg.GetEncoding(), msg.GetData(), j.length, buf)
	if err != nil {
		return nil, err
	}
	what := fmt.Sprintf("chunk %d of file %d", msg.GetChunkIndex(), msg.GetFileIndex())
	if err := verify.CheckDigest(what, *j.digest, verify.Sum(data)); err != nil {
		return nil, err
	}
	return data, nil
}
