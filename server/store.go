package server

import (
	"context"
	"io"
	"time"

	snapsyncv1 "github.com/snapsync/snapsync/proto/gen/snapsync/v1"
	"github.com/snapsync/snapsync/verify"
)

// Store holds the snapshots a SnapshotService serves (StoreHandler): the
// live catalog of checkpoints (Server) or a backup repository (repo/serve).
// It is also a chunk source by digest (HasChunks, FetchByDigest).
// The service does what is alike for every store: it parses and checks
// requests (snapshot IDs, chunk ranges), pages manifests, describes
// snapshots (wire.SnapshotInfo) and maps errors to codes and reasons
// (errorTable); the store makes or finds snapshots, holds leases and reads
// chunks. A Store that is also a source.Prober answers Probe.
type Store interface {
	// Create returns a snapshot reflecting at least minIndex and a new
	// lease of ttl on it (0: the store's default). A store holding none is
	// a *source.MinIndexError.
	Create(ctx context.Context, minIndex uint64, ttl time.Duration) (Desc, Lease, error)
	// Open returns snapshot id for the length of one call, which closes it.
	// An id the store does not hold is ErrUnknownSnapshot.
	Open(ctx context.Context, id verify.Digest) (Snapshot, error)
	// Renew extends lease id by ttl (0: its own TTL); an unknown or expired
	// lease is ErrUnknownLease.
	Renew(ctx context.Context, id string, ttl time.Duration) (Lease, error)
	// Release gives lease id back; a lease already gone is not an error.
	Release(ctx context.Context, id string) error
	// HasChunks reports, for each of ds, whether ReadChunk could read it
	// now: a hint, which takes no lease.
	HasChunks(ctx context.Context, ds []verify.Digest) []bool
	// ReadChunk appends the bytes of chunk d to buf and returns it, hashed
	// again as they were read: a chunk the store does not hold, or whose
	// bytes no longer hash to d, is ErrNoChunk, never wrong bytes.
	ReadChunk(ctx context.Context, d verify.Digest, buf []byte) ([]byte, error)
}

// Snapshot is one snapshot of a Store, open for one call.
type Snapshot interface {
	// Desc describes it.
	Desc() Desc
	// OpenManifest streams the canonical encoding of its manifest, exactly
	// Desc().ManifestSize bytes; a store may verify it as it goes and fail
	// the last Read (ErrDataLoss) rather than deliver bytes that do not
	// hash to the ID.
	OpenManifest(ctx context.Context) (io.ReadCloser, error)
	// Chunks starts sending the chunks of one FetchChunks request, whose
	// ranges are checked already, through send: a *FetchChunksResponse, or
	// an *rpccodec.ChunkFrame when direct (the stream's codec is
	// rpccodec.Codec). peer is the client's address ("host:port"; "" when
	// unknown).
	Chunks(ctx context.Context, req *snapsyncv1.FetchChunksRequest, peer string, send func(any) error, direct bool) (ChunkSender, error)
	// Close ends the call's hold on the snapshot.
	Close()
}

// ChunkSender sends the chunks of one FetchChunks stream, one call a chunk.
type ChunkSender interface {
	// Send sends chunk j of file fi of the manifest, which starts at byte
	// off of the file.
	Send(ctx context.Context, fi, j int, off int64) error
	// Done ends the stream, which ended with err.
	Done(err error)
}

// Desc describes a snapshot: its ID, its manifest (or, where the store
// keeps only that, its shape) and the size of the manifest's canonical
// encoding.
type Desc struct {
	ID verify.Digest
	// Manifest is the decoded manifest; nil where Shape is set.
	Manifest *verify.Manifest
	// Shape is what the service needs of a manifest the store does not
	// hold decoded (the live catalog keeps its manifests on disk); nil:
	// Manifest's.
	Shape        Shape
	ManifestSize int64
}

// Shape is what a SnapshotService needs of a manifest to describe its
// snapshot and check chunk ranges: every file is cut into ChunkSize chunks,
// the last shorter, so chunk j of a file starts at verify.Offset.
type Shape interface {
	Meta() verify.Meta
	ChunkSize() uint32
	Files() int
	TotalBytes() int64
	// Chunks is the number of chunks of file fi.
	Chunks(fi int) int
}

// shape returns d's Shape, or one over its decoded manifest.
func (d Desc) shape() Shape {
	if d.Shape != nil {
		return d.Shape
	}
	return manifestShape{d.Manifest}
}

// manifestShape is the Shape of a decoded manifest.
type manifestShape struct{ m *verify.Manifest }

func (s manifestShape) Meta() verify.Meta { return s.m.Meta }
func (s manifestShape) ChunkSize() uint32 { return s.m.ChunkSize }
func (s manifestShape) Files() int        { return len(s.m.Files) }
func (s manifestShape) TotalBytes() int64 { return s.m.TotalBytes() }
func (s manifestShape) Chunks(fi int) int { return len(s.m.Files[fi].Chunks) }

// Lease is a hold on a snapshot, until it expires or is released.
type Lease struct {
	ID      string
	Expires time.Time
	// Reused: the snapshot was held already, not made for this lease.
	Reused bool
	// Ordinal is the lease's place among those granted on the snapshot
	// since the server started, from 1 (0: not counted). Clients installing
	// the snapshot at once spread where they start fetching by it.
	Ordinal uint32
}
