package client

import (
	"fmt"

	"github.com/klauspost/compress/zstd"

	"github.com/snapsync/snapsync/internal/chunkcodec"
	snapsyncv1 "github.com/snapsync/snapsync/proto/gen/snapsync/v1"
	"github.com/snapsync/snapsync/verify"
)

// errBadChunk reports chunk bytes that do not decode to the manifest's
// length; like a digest mismatch, the chunk is fetched again.
var errBadChunk = chunkcodec.ErrBadChunk

// newDecoder and decodeChunk are chunkcodec's, shared with backups.
var (
	newDecoder  = chunkcodec.NewDecoder
	decodeChunk = chunkcodec.Decode
)

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
