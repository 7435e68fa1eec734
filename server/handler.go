package server

import (
	"context"
	"fmt"
	"strings"
	"time"

	"connectrpc.com/connect"

	"github.com/snapsync/snapsync/internal/wire"
	snapsyncv1 "github.com/snapsync/snapsync/proto/gen/snapsync/v1"
	"github.com/snapsync/snapsync/proto/gen/snapsync/v1/snapsyncv1connect"
	"github.com/snapsync/snapsync/verify"
)

// manifestPage is the size of a GetManifest page.
const manifestPage = 1 << 20

// handler adapts the Server to the generated Connect interface. Admission,
// draining and the mapping of its errors to Connect codes and reasons are
// the admission interceptor's, around every method.
type handler struct{ s *Server }

var _ snapsyncv1connect.SnapshotServiceHandler = (*handler)(nil)

func (h *handler) CreateSnapshot(ctx context.Context, req *connect.Request[snapsyncv1.CreateSnapshotRequest]) (*connect.Response[snapsyncv1.CreateSnapshotResponse], error) {
	s := h.s
	start := time.Now()
	minIndex := req.Msg.GetMinIndex()
	e, l, reused, err := s.create(ctx, minIndex, s.leaseTTL(req.Msg.GetLeaseTtlMs()))
	s.auditCreate(ctx, req.Peer().Addr, req.Msg.GetClient(), minIndex, e, reused, start, err)
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&snapsyncv1.CreateSnapshotResponse{Snapshot: snapshotInfo(e), Lease: leaseMsg(l)}), nil
}

// leaseTTL turns a requested TTL in milliseconds into the one granted.
func (s *Server) leaseTTL(ms uint32) time.Duration {
	if ms == 0 {
		return s.cfg.LeaseTTL
	}
	return min(time.Duration(ms)*time.Millisecond, s.cfg.MaxLeaseTTL)
}

func snapshotInfo(e *entry) *snapsyncv1.SnapshotInfo {
	m := e.man
	return wire.SnapshotInfo(e.id, m.Meta, len(m.Files), m.TotalBytes(), m.ChunkSize, int64(len(e.enc)))
}

func leaseMsg(l *lease) *snapsyncv1.Lease {
	return &snapsyncv1.Lease{LeaseId: l.id, ExpiresUnixNano: l.expires.UnixNano()}
}

func (h *handler) GetManifest(ctx context.Context, req *connect.Request[snapsyncv1.GetManifestRequest], stream *connect.ServerStream[snapsyncv1.GetManifestResponse]) error {
	s := h.s
	id, err := parseID(req.Msg.GetSnapshotId())
	if err != nil {
		return err
	}
	e, err := s.catalog.acquire(id, s.cfg.Clock.Now())
	if err != nil {
		return err
	}
	defer func() { s.removeTrees(s.catalog.finish(e, s.cfg.Clock.Now())) }()
	total := uint64(len(e.enc))
	for off := 0; off < len(e.enc); off += manifestPage {
		if err := ctx.Err(); err != nil {
			return context.Cause(ctx)
		}
		page := e.enc[off:min(off+manifestPage, len(e.enc))]
		if err := stream.Send(&snapsyncv1.GetManifestResponse{Offset: uint64(off), Data: page, TotalSize: total}); err != nil {
			return fmt.Errorf("send manifest page: %w", err)
		}
	}
	return nil
}

func parseID(b []byte) (verify.Digest, error) {
	id, err := verify.DigestFromBytes(b)
	if err != nil {
		return id, fmt.Errorf("%w: snapshot_id: %w", ErrBadRequest, err)
	}
	return id, nil
}

func (h *handler) FetchChunks(ctx context.Context, req *connect.Request[snapsyncv1.FetchChunksRequest], stream *connect.ServerStream[snapsyncv1.FetchChunksResponse]) error {
	s := h.s
	conn := stream.Conn()
	return s.fetch(ctx, req, conn.Send, usesProto(req.Header().Get("Content-Type")))
}

func (h *handler) RenewLease(_ context.Context, req *connect.Request[snapsyncv1.RenewLeaseRequest]) (*connect.Response[snapsyncv1.RenewLeaseResponse], error) {
	s := h.s
	if req.Msg.GetLeaseId() == "" {
		return nil, fmt.Errorf("%w: lease_id is empty", ErrBadRequest)
	}
	ttl := time.Duration(0) // keep the lease's own TTL
	if ms := req.Msg.GetLeaseTtlMs(); ms > 0 {
		ttl = s.leaseTTL(ms)
	}
	l, err := s.catalog.renew(req.Msg.GetLeaseId(), nil, ttl, s.cfg.Clock.Now())
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&snapsyncv1.RenewLeaseResponse{Lease: leaseMsg(&l)}), nil
}

// ReleaseLease gives a lease back; releasing a lease already gone succeeds.
func (h *handler) ReleaseLease(_ context.Context, req *connect.Request[snapsyncv1.ReleaseLeaseRequest]) (*connect.Response[snapsyncv1.ReleaseLeaseResponse], error) {
	s := h.s
	if req.Msg.GetLeaseId() == "" {
		return nil, fmt.Errorf("%w: lease_id is empty", ErrBadRequest)
	}
	s.removeTrees(s.catalog.release(req.Msg.GetLeaseId(), s.cfg.Clock.Now()))
	return connect.NewResponse(&snapsyncv1.ReleaseLeaseResponse{}), nil
}

// usesProto reports whether a request of this content type is answered in
// binary protobuf, by rpccodec.Codec, rather than JSON.
func usesProto(contentType string) bool {
	return !strings.Contains(strings.ToLower(contentType), "json")
}
