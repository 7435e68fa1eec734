package backup

import (
	"fmt"

	"github.com/klauspost/compress/zstd"

	"github.com/snapsync/snapsync/internal/chunkcodec"
	snapsyncv1 "github.com/snapsync/snapsync/proto/gen/snapsync/v1"
	"github.com/snapsync/snapsync/verify"
)

// checkChunk returns the raw bytes of a chunk message, which must decode to
// c.Length bytes hashing to c.Digest; buf holds decoded output.
func checkChunk(dec *zstd.Decoder, msg *snapsyncv1.FetchChunksResponse, c verify.Chunk, buf []byte) ([]byte, error) {
	data, err := chunkcodec.Decode(dec, msg.GetEncoding(), msg.GetData(), c.Length, buf)
	if err != nil {
		return nil, fmt.Errorf("%w: chunk %s: %w", ErrSource, c.Digest.Short(), err)
	}
	what := fmt.Sprintf("chunk %d of file %d", msg.GetChunkIndex(), msg.GetFileIndex())
	if err := verify.CheckDigest(what, c.Digest, verify.Sum(data)); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrSource, err)
	}
	return data, nil
}
