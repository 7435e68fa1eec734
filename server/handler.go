package server

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"connectrpc.com/connect"
	"github.com/rs/zerolog"

	"github.com/snapsync/snapsync/internal/wire"
	"github.com/snapsync/snapsync/metrics"
	snapsyncv1 "github.com/snapsync/snapsync/proto/gen/snapsync/v1"
	"github.com/snapsync/snapsync/proto/gen/snapsync/v1/snapsyncv1connect"
	"github.com/snapsync/snapsync/source"
	"github.com/snapsync/snapsync/verify"
)

// manifestPage is the size of a GetManifest page.
const manifestPage = 1 << 20

// handler is the SnapshotService over a Store: what is alike for every
// store, whatever holds its snapshots. Admission, draining and the mapping
// of its errors to Connect codes and reasons are the admission
// interceptor's, around every method.
type handler struct {
	st        Store
	maxChunks int              // per FetchChunks request
	log       zerolog.Logger   // the audit lines
	metrics   *metrics.Metrics // nil: none
	sending   *sending         // what FetchByDigest streams share
}

var _ snapsyncv1connect.SnapshotServiceHandler = (*handler)(nil)

func (h *handler) CreateSnapshot(ctx context.Context, req *connect.Request[snapsyncv1.CreateSnapshotRequest]) (*connect.Response[snapsyncv1.CreateSnapshotResponse], error) {
	start := time.Now()
	minIndex := req.Msg.GetMinIndex()
	d, l, err := h.st.Create(ctx, minIndex, time.Duration(req.Msg.GetLeaseTtlMs())*time.Millisecond)
	h.auditCreate(ctx, req.Peer().Addr, req.Msg.GetClient(), minIndex, d, l.Reused, start, err)
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&snapsyncv1.CreateSnapshotResponse{Snapshot: snapshotInfo(d), Lease: leaseMsg(l), LeaseOrdinal: l.Ordinal}), nil
}

// snapshotInfo describes d as every store does.
func snapshotInfo(d Desc) *snapsyncv1.SnapshotInfo {
	s := d.shape()
	return wire.SnapshotInfo(d.ID, s.Meta(), s.Files(), s.TotalBytes(), s.ChunkSize(), d.ManifestSize)
}

func leaseMsg(l Lease) *snapsyncv1.Lease {
	return &snapsyncv1.Lease{LeaseId: l.ID, ExpiresUnixNano: l.Expires.UnixNano()}
}

// GetManifest streams the snapshot's manifest in pages of manifestPage
// bytes, as the store reads it.
func (h *handler) GetManifest(ctx context.Context, req *connect.Request[snapsyncv1.GetManifestRequest], stream *connect.ServerStream[snapsyncv1.GetManifestResponse]) error {
	snap, err := h.open(ctx, req.Msg.GetSnapshotId())
	if err != nil {
		return err
	}
	defer snap.Close()
	size := snap.Desc().ManifestSize
	rc, err := snap.OpenManifest(ctx)
	if err != nil {
		return err
	}
	defer rc.Close() // read-only: nothing to lose
	buf := make([]byte, min(manifestPage, size))
	for off := int64(0); off < size; {
		if err := ctx.Err(); err != nil {
			return context.Cause(ctx)
		}
		n, err := io.ReadFull(rc, buf[:min(int64(len(buf)), size-off)])
		if err != nil {
			return fmt.Errorf("read manifest at %d of %d: %w", off, size, err)
		}
		if err := stream.Send(&snapsyncv1.GetManifestResponse{Offset: uint64(off), Data: buf[:n], TotalSize: uint64(size)}); err != nil {
			return fmt.Errorf("send manifest page: %w", err)
		}
		off += int64(n)
	}
	return nil
}

// open parses a request's snapshot ID and opens it.
func (h *handler) open(ctx context.Context, b []byte) (Snapshot, error) {
	id, err := parseID(b)
	if err != nil {
		return nil, err
	}
	return h.st.Open(ctx, id)
}

func parseID(b []byte) (verify.Digest, error) {
	id, err := verify.DigestFromBytes(b)
	if err != nil {
		return id, fmt.Errorf("%w: snapshot_id: %w", ErrBadRequest, err)
	}
	return id, nil
}

// FetchChunks sends the chunks a request names, checked against the
// manifest, in its order, one Send of the store's a chunk.
func (h *handler) FetchChunks(ctx context.Context, req *connect.Request[snapsyncv1.FetchChunksRequest], stream *connect.ServerStream[snapsyncv1.FetchChunksResponse]) error {
	snap, err := h.open(ctx, req.Msg.GetSnapshotId())
	if err != nil {
		return err
	}
	defer snap.Close()
	m := snap.Desc().shape()
	if _, err := checkRanges(m, req.Msg.GetRanges(), h.maxChunks); err != nil {
		return err
	}
	cs, err := snap.Chunks(ctx, req.Msg, req.Peer().Addr, stream.Conn().Send, usesProto(req.Header().Get("Content-Type")))
	if err != nil {
		return err
	}
	err = sendRanges(ctx, m, req.Msg.GetRanges(), cs)
	cs.Done(err)
	return err
}

// sendRanges sends every chunk of ranges through cs.
// Every chunk but a file's last is the chunk size (the manifest is valid),
// so chunk j starts at verify.Offset.
func sendRanges(ctx context.Context, m Shape, ranges []*snapsyncv1.ChunkRange, cs ChunkSender) error {
	for _, r := range ranges {
		fi, first := int(r.GetFileIndex()), int(r.GetFirstChunk())
		for j := first; j < first+int(r.GetChunkCount()); j++ {
			if err := ctx.Err(); err != nil {
				return context.Cause(ctx)
			}
			if err := cs.Send(ctx, fi, j, verify.Offset(m.ChunkSize(), j)); err != nil {
				return err
			}
		}
	}
	return nil
}

func (h *handler) RenewLease(ctx context.Context, req *connect.Request[snapsyncv1.RenewLeaseRequest]) (*connect.Response[snapsyncv1.RenewLeaseResponse], error) {
	if req.Msg.GetLeaseId() == "" {
		return nil, fmt.Errorf("%w: lease_id is empty", ErrBadRequest)
	}
	l, err := h.st.Renew(ctx, req.Msg.GetLeaseId(), time.Duration(req.Msg.GetLeaseTtlMs())*time.Millisecond)
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&snapsyncv1.RenewLeaseResponse{Lease: leaseMsg(l)}), nil
}

// ReleaseLease gives a lease back; releasing a lease already gone succeeds.
func (h *handler) ReleaseLease(ctx context.Context, req *connect.Request[snapsyncv1.ReleaseLeaseRequest]) (*connect.Response[snapsyncv1.ReleaseLeaseResponse], error) {
	if req.Msg.GetLeaseId() == "" {
		return nil, fmt.Errorf("%w: lease_id is empty", ErrBadRequest)
	}
	if err := h.st.Release(ctx, req.Msg.GetLeaseId()); err != nil {
		return nil, err
	}
	return connect.NewResponse(&snapsyncv1.ReleaseLeaseResponse{}), nil
}

// Probe tells the newest index the store could grant now, as a
// source.Prober; it takes no lease and makes no checkpoint.
func (h *handler) Probe(ctx context.Context, req *connect.Request[snapsyncv1.ProbeRequest]) (*connect.Response[snapsyncv1.ProbeResponse], error) {
	var n source.Newest
	if p, ok := h.st.(source.Prober); ok {
		var err error
		if n, err = p.Newest(ctx); err != nil {
			h.log.Warn().Err(err).Str("client", req.Msg.GetClient()).Str("peer", req.Peer().Addr).Msg("probe")
			return nil, err
		}
	}
	return connect.NewResponse(&snapsyncv1.ProbeResponse{NewestIndex: n.Index, NewestTerm: n.Term,
		CanMakeCheckpoint: n.OnDemand, Engine: n.Engine}), nil
}

// usesProto reports whether a request of this content type is answered in
// binary protobuf, by rpccodec.Codec, rather than JSON.
func usesProto(contentType string) bool {
	return !strings.Contains(strings.ToLower(contentType), "json")
}
