// Package chunkcodec decodes a chunk as it travels on the wire (raw, or one
// zstd frame) with memory bounded by the chunk size, for every reader of
// chunk streams: installs and backups. The bytes it returns are not yet
// verified: the caller hashes them.
package chunkcodec

import (
	"errors"
	"fmt"

	"github.com/klauspost/compress/zstd"

	snapsyncv1 "github.com/snapsync/snapsync/proto/gen/snapsync/v1"
)

// ErrBadChunk reports chunk bytes that do not decode to the manifest's
// length; like a digest mismatch, the chunk may be fetched again.
var ErrBadChunk = errors.New("bad chunk encoding")

// NewDecoder returns a zstd decoder whose output is bounded by chunkSize,
// so a hostile frame cannot make it allocate more (docs/DESIGN.md invariant 5).
func NewDecoder(chunkSize uint32) (*zstd.Decoder, error) {
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

// Decode returns the raw bytes of a chunk message that must decode to
// exactly length bytes; buf (of at least length bytes) holds decoded output.
func Decode(dec *zstd.Decoder, enc snapsyncv1.Encoding, data []byte, length uint32, buf []byte) ([]byte, error) {
	switch enc {
	case snapsyncv1.Encoding_ENCODING_RAW:
		if len(data) != int(length) {
			return nil, fmt.Errorf("%w: raw chunk of %d bytes, want %d", ErrBadChunk, len(data), length)
		}
		return data, nil
	case snapsyncv1.Encoding_ENCODING_ZSTD:
		out, err := dec.DecodeAll(data, buf[:0])
		if err != nil {
			return nil, fmt.Errorf("%w: zstd: %v", ErrBadChunk, err)
		}
		if len(out) != int(length) {
			return nil, fmt.Errorf("%w: zstd chunk decodes to %d bytes, want %d", ErrBadChunk, len(out), length)
		}
		return out, nil
	}
	return nil, fmt.Errorf("%w: encoding %v", ErrBadChunk, enc)
}
