package serve

import (
	"context"
	"errors"
	"fmt"

	"connectrpc.com/connect"

	snapsyncv1 "github.com/snapsync/snapsync/proto/gen/snapsync/v1"
	"github.com/snapsync/snapsync/reason"
	"github.com/snapsync/snapsync/repo"
)

// FetchChunks sends the chunks asked for, in order, each read and verified
// through repo.GetChunk and sent raw: the client is on the same host, where
// compressing would only cost. A chunk at most verify.MaxChunkSize (3 MiB)
// keeps every message under 4 MiB.
func (h *Handler) FetchChunks(ctx context.Context, req *connect.Request[snapsyncv1.FetchChunksRequest], stream *connect.ServerStream[snapsyncv1.FetchChunksResponse]) error {
	if err := h.checkID(req.Msg.GetSnapshotId()); err != nil {
		return err
	}
	if err := h.checkRanges(req.Msg.GetRanges()); err != nil {
		return reason.New(connect.CodeInvalidArgument, err, reason.BadRequest, nil)
	}
	var msg snapsyncv1.FetchChunksResponse
	for _, r := range req.Msg.GetRanges() {
		fi, first := int(r.GetFileIndex()), int(r.GetFirstChunk())
		f := &h.m.Files[fi]
		for j := first; j < first+int(r.GetChunkCount()); j++ {
			c := f.Chunks[j]
			data, err := h.r.GetChunk(ctx, c.Digest, c.Length)
			if err != nil {
				return chunkError(ctx, fmt.Errorf("chunk %d of %q: %w", j, f.Path, err))
			}
			msg.FileIndex, msg.ChunkIndex, msg.Encoding, msg.Data = uint32(fi), uint32(j), snapsyncv1.Encoding_ENCODING_RAW, data
			if err := stream.Send(&msg); err != nil {
				return fmt.Errorf("send chunk %d of %q: %w", j, f.Path, err)
			}
		}
	}
	return nil
}

// chunkError maps a chunk (or manifest) the repository could not give:
// damage is DATA_LOSS (the client must not retry), anything else is
// UNAVAILABLE.
func chunkError(ctx context.Context, err error) error {
	switch {
	case ctx.Err() != nil:
		return connect.NewError(connect.CodeCanceled, context.Cause(ctx))
	case errors.Is(err, repo.ErrCorrupt), errors.Is(err, repo.ErrNotFound):
		return reason.New(connect.CodeDataLoss, fmt.Errorf("serve: repository damaged: %w", err), reason.DataLoss, nil)
	}
	return connect.NewError(connect.CodeUnavailable, fmt.Errorf("serve: read repository: %w", err))
}

// checkRanges checks that every range names chunks of the manifest, at most
// maxChunksPerRequest in all.
func (h *Handler) checkRanges(ranges []*snapsyncv1.ChunkRange) error {
	if len(ranges) == 0 {
		return errors.New("serve: no ranges")
	}
	var total uint64
	for i, r := range ranges {
		fi, first, count := r.GetFileIndex(), uint64(r.GetFirstChunk()), uint64(r.GetChunkCount())
		if int64(fi) >= int64(len(h.m.Files)) {
			return fmt.Errorf("serve: range %d: file %d of %d", i, fi, len(h.m.Files))
		}
		n := uint64(len(h.m.Files[fi].Chunks))
		if count == 0 || first+count > n {
			return fmt.Errorf("serve: range %d: chunks [%d, %d) of file %d, which has %d", i, first, first+count, fi, n)
		}
		if total += count; total > maxChunksPerRequest {
			return fmt.Errorf("serve: more than %d chunks in one request", maxChunksPerRequest)
		}
	}
	return nil
}
