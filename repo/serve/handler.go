package serve

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"connectrpc.com/connect"

	snapsyncv1 "github.com/snapsync/snapsync/proto/gen/snapsync/v1"
	"github.com/snapsync/snapsync/proto/gen/snapsync/v1/snapsyncv1connect"
	"github.com/snapsync/snapsync/reason"
	"github.com/snapsync/snapsync/repo"
	"github.com/snapsync/snapsync/verify"
)

// manifestPage is the size of a GetManifest page, as the server's.
const manifestPage = 1 << 20

// maxChunksPerRequest caps the chunks one FetchChunks request may name.
const maxChunksPerRequest = 1 << 20

// leaseTTL is the lease reported when the client asks for none. Leases are
// nominal: the snapshot cannot go away while the caller's lock is held.
const leaseTTL = 2 * time.Minute

// Handler serves one committed snapshot of a repository. It holds the
// decoded manifest, not its encoding: GetManifest streams the manifest object
// from the repository, page by page, verified as it goes (repo.OpenManifest).
type Handler struct {
	r    *repo.Repo
	info repo.SnapshotInfo
	m    *verify.Manifest
	size int64 // the manifest's encoded size
	// problems is what List found out of place.
	problems []repo.Problem
	now      func() time.Time
}

var _ snapsyncv1connect.SnapshotServiceHandler = (*Handler)(nil)

// New returns the handler of snapshot id of r, or of the newest when id is
// zero. It reads and verifies the snapshot's manifest; a snapshot that is
// not committed is an error matching repo.ErrNotFound.
func New(ctx context.Context, r *repo.Repo, id verify.Digest) (*Handler, error) {
	l, err := r.List(ctx)
	if err != nil {
		return nil, err
	}
	info, err := find(l, id)
	if err != nil && len(l.Problems) > 0 {
		// The snapshot may be one of them, gone astray: say so.
		return nil, fmt.Errorf("%w; the listing holds what is no snapshot: %s", err, repo.Summary(l.Problems))
	}
	if err != nil {
		return nil, err
	}
	m, err := r.Manifest(ctx, info.ID)
	if err != nil {
		return nil, err
	}
	size, err := r.ManifestSize(ctx, info.ID)
	if err != nil {
		return nil, err
	}
	return &Handler{r: r, info: info, m: m, size: size, problems: l.Problems, now: time.Now}, nil
}

// find returns the committed snapshot id of l, or the newest when id is
// zero.
func find(l repo.Listing, id verify.Digest) (repo.SnapshotInfo, error) {
	if id.IsZero() {
		return l.Latest()
	}
	for _, s := range l.Snapshots {
		if s.ID == id {
			return s, nil
		}
	}
	return repo.SnapshotInfo{}, fmt.Errorf("serve: snapshot %s: %w", id, repo.ErrNotFound)
}

// Problems returns what the repository's listing held that is no snapshot,
// for the caller to report.
func (h *Handler) Problems() []repo.Problem { return h.problems }

// Info describes the snapshot served.
func (h *Handler) Info() repo.SnapshotInfo { return h.info }

// HTTPHandler returns h on its own mux, with the limits of the server's.
func (h *Handler) HTTPHandler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle(snapsyncv1connect.NewSnapshotServiceHandler(h,
		connect.WithCompression("gzip", nil, nil),
		connect.WithReadMaxBytes(1<<20),
		connect.WithSendMaxBytes(4<<20),
	))
	return mux
}

func (h *Handler) CreateSnapshot(_ context.Context, req *connect.Request[snapsyncv1.CreateSnapshotRequest]) (*connect.Response[snapsyncv1.CreateSnapshotResponse], error) {
	if want := req.Msg.GetMinIndex(); want > h.m.Meta.Index {
		err := fmt.Errorf("serve: snapshot %s reflects index %d, below --min-index %d", h.info.ID.Short(), h.m.Meta.Index, want)
		return nil, reason.New(connect.CodeFailedPrecondition, err, reason.MinIndexNotReached, nil)
	}
	l, err := h.lease(req.Msg.GetLeaseTtlMs())
	if err != nil {
		return nil, connect.NewError(connect.CodeInternal, err)
	}
	m := h.m
	info := &snapsyncv1.SnapshotInfo{
		SnapshotId: h.info.ID[:], Term: m.Meta.Term, Index: m.Meta.Index, Engine: m.Meta.Engine,
		CreatedUnixNano: m.Meta.CreatedUnixNano, Labels: m.Meta.Labels,
		FileCount: uint64(len(m.Files)), TotalBytes: uint64(m.TotalBytes()),
		ChunkSize: m.ChunkSize, ManifestSize: uint64(h.size),
	}
	return connect.NewResponse(&snapsyncv1.CreateSnapshotResponse{Snapshot: info, Lease: l}), nil
}

// lease returns a nominal lease of ms milliseconds (leaseTTL for 0).
func (h *Handler) lease(ms uint32) (*snapsyncv1.Lease, error) {
	var b [12]byte
	if _, err := rand.Read(b[:]); err != nil {
		return nil, err
	}
	ttl := leaseTTL
	if ms > 0 {
		ttl = time.Duration(ms) * time.Millisecond
	}
	return &snapsyncv1.Lease{LeaseId: hex.EncodeToString(b[:]), ExpiresUnixNano: h.now().Add(ttl).UnixNano()}, nil
}

// GetManifest streams the manifest object in pages of manifestPage bytes.
// The digest is checked before the last page is sent: a manifest damaged
// since New ends the stream with DATA_LOSS instead (the client checks the
// digest too, so nothing unverified is ever installed).
func (h *Handler) GetManifest(ctx context.Context, req *connect.Request[snapsyncv1.GetManifestRequest], stream *connect.ServerStream[snapsyncv1.GetManifestResponse]) error {
	if err := h.checkID(req.Msg.GetSnapshotId()); err != nil {
		return err
	}
	rc, size, err := h.r.OpenManifest(ctx, h.info.ID)
	if err == nil && size != h.size {
		err = fmt.Errorf("manifest %s: %w: %d bytes, %d when the snapshot was opened", h.info.ID, repo.ErrCorrupt, size, h.size)
	}
	if err != nil {
		return chunkError(ctx, err)
	}
	defer rc.Close()
	buf := make([]byte, min(manifestPage, size))
	for off := int64(0); off < size; {
		n, err := io.ReadFull(rc, buf[:min(int64(len(buf)), size-off)])
		if err != nil {
			return chunkError(ctx, err)
		}
		if err := stream.Send(&snapsyncv1.GetManifestResponse{Offset: uint64(off), Data: buf[:n], TotalSize: uint64(size)}); err != nil {
			return fmt.Errorf("send manifest page: %w", err)
		}
		off += int64(n)
	}
	return nil
}

// checkID refuses any snapshot but the one served.
func (h *Handler) checkID(b []byte) error {
	id, err := verify.DigestFromBytes(b)
	if err != nil {
		return reason.New(connect.CodeInvalidArgument, fmt.Errorf("serve: snapshot_id: %w", err), reason.BadRequest, nil)
	}
	if id != h.info.ID {
		return reason.New(connect.CodeNotFound, fmt.Errorf("serve: snapshot %s is not the one served", id.Short()), reason.UnknownSnapshot, nil)
	}
	return nil
}

func (h *Handler) RenewLease(_ context.Context, req *connect.Request[snapsyncv1.RenewLeaseRequest]) (*connect.Response[snapsyncv1.RenewLeaseResponse], error) {
	if req.Msg.GetLeaseId() == "" {
		return nil, reason.New(connect.CodeInvalidArgument, errors.New("serve: lease_id is empty"), reason.BadRequest, nil)
	}
	l, err := h.lease(req.Msg.GetLeaseTtlMs())
	if err != nil {
		return nil, connect.NewError(connect.CodeInternal, err)
	}
	l.LeaseId = req.Msg.GetLeaseId()
	return connect.NewResponse(&snapsyncv1.RenewLeaseResponse{Lease: l}), nil
}

func (h *Handler) ReleaseLease(context.Context, *connect.Request[snapsyncv1.ReleaseLeaseRequest]) (*connect.Response[snapsyncv1.ReleaseLeaseResponse], error) {
	return connect.NewResponse(&snapsyncv1.ReleaseLeaseResponse{}), nil
}

func (h *Handler) Probe(context.Context, *connect.Request[snapsyncv1.ProbeRequest]) (*connect.Response[snapsyncv1.ProbeResponse], error) {
	return connect.NewResponse(&snapsyncv1.ProbeResponse{
		NewestIndex: h.m.Meta.Index, NewestTerm: h.m.Meta.Term, Engine: h.m.Meta.Engine,
	}), nil
}
