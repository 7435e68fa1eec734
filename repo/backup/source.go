package backup

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"time"

	"connectrpc.com/connect"

	"github.com/snapsync/snapsync/client"
	snapsyncv1 "github.com/snapsync/snapsync/proto/gen/snapsync/v1"
	"github.com/snapsync/snapsync/proto/gen/snapsync/v1/snapsyncv1connect"
	"github.com/snapsync/snapsync/verify"
)

// ErrSource reports a source that broke the protocol: a manifest or a chunk
// that does not verify, a message out of order.
var ErrSource = errors.New("backup: bad source")

// maxMessage bounds every message read from the source, as an install's.
const maxMessage = 4 << 20

// leaseTTL is the lease a backup asks for; it is renewed at a third of it.
const leaseTTL = 2 * time.Minute

// source is the leased snapshot being backed up.
type source struct {
	rpc     snapsyncv1connect.SnapshotServiceClient
	id      verify.Digest
	m       *verify.Manifest
	leaseID string
	stop    context.CancelFunc
	done    chan struct{}
}

// openSource leases a checkpoint of cfg.Source and reads its manifest,
// verified against its snapshot ID.
func openSource(ctx context.Context, cfg *Config) (*source, error) {
	hc := cfg.HTTPClient
	if hc == nil {
		hc = client.NewHTTPClient()
	}
	rpc := snapsyncv1connect.NewSnapshotServiceClient(hc, cfg.Source,
		connect.WithAcceptCompression("gzip", nil, nil), connect.WithReadMaxBytes(maxMessage))
	resp, err := rpc.CreateSnapshot(ctx, connect.NewRequest(&snapsyncv1.CreateSnapshotRequest{
		MinIndex: cfg.MinIndex, LeaseTtlMs: uint32(leaseTTL.Milliseconds()), Client: "snapsync backup"}))
	if err != nil {
		return nil, fmt.Errorf("backup: create snapshot at %s: %w", cfg.Source, err)
	}
	info := resp.Msg.GetSnapshot()
	id, err := verify.DigestFromBytes(info.GetSnapshotId())
	if err != nil {
		return nil, fmt.Errorf("%w: snapshot ID: %w", ErrSource, err)
	}
	s := &source{rpc: rpc, id: id, leaseID: resp.Msg.GetLease().GetLeaseId(), done: make(chan struct{})}
	renew, stop := context.WithCancel(context.WithoutCancel(ctx))
	s.stop = stop
	go s.renew(renew, cfg)
	if s.m, err = s.manifest(ctx, info.GetManifestSize()); err != nil {
		s.release()
		return nil, err
	}
	return s, nil
}

// manifest reads the manifest's pages and verifies it against s.id.
func (s *source) manifest(ctx context.Context, size uint64) (*verify.Manifest, error) {
	if size == 0 || size > verify.MaxManifestSize {
		return nil, fmt.Errorf("%w: manifest size %d", ErrSource, size)
	}
	stream, err := s.rpc.GetManifest(ctx, connect.NewRequest(&snapsyncv1.GetManifestRequest{SnapshotId: s.id[:]}))
	if err != nil {
		return nil, fmt.Errorf("backup: get manifest: %w", err)
	}
	defer stream.Close()
	var buf bytes.Buffer
	for stream.Receive() {
		msg := stream.Msg()
		if msg.GetOffset() != uint64(buf.Len()) || msg.GetTotalSize() != size || uint64(buf.Len()+len(msg.GetData())) > size {
			return nil, fmt.Errorf("%w: manifest page at %d of %d, have %d", ErrSource, msg.GetOffset(), msg.GetTotalSize(), buf.Len())
		}
		buf.Write(msg.GetData())
	}
	if err := stream.Err(); err != nil {
		return nil, fmt.Errorf("backup: get manifest: %w", err)
	}
	m, err := verify.DecodeVerified(s.id, buf.Bytes())
	if err != nil {
		return nil, fmt.Errorf("%w: manifest: %w", ErrSource, err)
	}
	return m, nil
}

// renew renews the lease at a third of its TTL until stopped.
func (s *source) renew(ctx context.Context, cfg *Config) {
	defer close(s.done)
	if s.leaseID == "" {
		return
	}
	t := time.NewTicker(leaseTTL / 3)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		req := &snapsyncv1.RenewLeaseRequest{LeaseId: s.leaseID, LeaseTtlMs: uint32(leaseTTL.Milliseconds())}
		if _, err := s.rpc.RenewLease(ctx, connect.NewRequest(req)); err != nil && ctx.Err() == nil {
			cfg.Logger.Warn().Err(err).Msg("renew lease")
		}
	}
}

// release stops renewing and gives the lease back; an unreleased lease only
// holds the source's checkpoint until it expires.
func (s *source) release() {
	s.stop()
	<-s.done
	if s.leaseID == "" {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, _ = s.rpc.ReleaseLease(ctx, connect.NewRequest(&snapsyncv1.ReleaseLeaseRequest{LeaseId: s.leaseID})) // best effort, see above
}
