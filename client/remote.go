package client

import (
	"context"
	"errors"
	"fmt"
	"time"

	"connectrpc.com/connect"
	"github.com/rs/zerolog"

	snapsyncv1 "github.com/snapsync/snapsync/proto/gen/snapsync/v1"
	"github.com/snapsync/snapsync/proto/gen/snapsync/v1/snapsyncv1connect"
	"github.com/snapsync/snapsync/reason"
	"github.com/snapsync/snapsync/verify"
)

// grant is a snapshot the server made (or reused) for this install, and the
// lease that holds it.
type grant struct {
	id      verify.Digest
	info    *snapsyncv1.SnapshotInfo
	leaseID string
	ttl     time.Duration // as granted; 0 when unknown
	// ordinal is the lease's place among those the server granted on the
	// snapshot, from 1 (0: the server does not say); see startBatch.
	ordinal uint32
}

// createSnapshot asks for a checkpoint reflecting at least minIndex and checks
// the server's answer before anything relies on it.
func createSnapshot(ctx context.Context, rpc snapsyncv1connect.SnapshotServiceClient, minIndex uint64, cfg *Config) (grant, error) {
	var g grant
	req := &snapsyncv1.CreateSnapshotRequest{MinIndex: minIndex, LeaseTtlMs: uint32(cfg.LeaseTTL.Milliseconds()), Client: "snapsync client"}
	err := newRetrier(cfg).do(ctx, "create snapshot", func(ctx context.Context) (bool, error) {
		resp, err := rpc.CreateSnapshot(ctx, connect.NewRequest(req))
		if isMinIndex(err) {
			return false, fmt.Errorf("%w: min index %d: %w", ErrMinIndex, minIndex, err)
		}
		if err != nil {
			return false, err
		}
		g, err = checkGrant(resp.Msg, minIndex)
		return false, err
	})
	return g, err
}

func checkGrant(resp *snapsyncv1.CreateSnapshotResponse, minIndex uint64) (grant, error) {
	info := resp.GetSnapshot()
	id, err := verify.DigestFromBytes(info.GetSnapshotId())
	if err != nil {
		return grant{}, fmt.Errorf("%w: snapshot ID: %w", ErrServer, err)
	}
	switch {
	case info.GetManifestSize() == 0 || info.GetManifestSize() > verify.MaxManifestSize:
		return grant{}, fmt.Errorf("%w: manifest size %d", ErrServer, info.GetManifestSize())
	case info.GetIndex() < minIndex:
		return grant{}, fmt.Errorf("%w: snapshot at index %d, asked for at least %d", ErrServer, info.GetIndex(), minIndex)
	}
	g := grant{id: id, info: info, leaseID: resp.GetLease().GetLeaseId(), ordinal: resp.GetLeaseOrdinal()}
	if exp := resp.GetLease().GetExpiresUnixNano(); exp > 0 {
		g.ttl = max(time.Until(time.Unix(0, exp)), 0)
	}
	return g, nil
}

// renewer renews a lease in the background at a third of its TTL.
type renewer struct {
	cancel context.CancelFunc
	done   chan struct{}
}

func startRenewer(ctx context.Context, rpc snapsyncv1connect.SnapshotServiceClient, g grant, cfg *Config) *renewer {
	ctx, cancel := context.WithCancel(ctx)
	r := &renewer{cancel: cancel, done: make(chan struct{})}
	if g.leaseID == "" || g.ttl <= 0 {
		close(r.done)
		return r
	}
	go func() {
		defer close(r.done)
		renewLoop(ctx, rpc, g, cfg)
	}()
	return r
}

// renewLoop renews g's lease, asking for cfg.LeaseTTL, at a third of what
// is left of it, on cfg.Clock, until ctx is done.
func renewLoop(ctx context.Context, rpc snapsyncv1connect.SnapshotServiceClient, g grant, cfg *Config) {
	ask, log := cfg.LeaseTTL, cfg.Logger
	every := max(g.ttl/3, 50*time.Millisecond)
	for sleep(ctx, cfg.Clock, every) == nil {
		req := &snapsyncv1.RenewLeaseRequest{LeaseId: g.leaseID, LeaseTtlMs: uint32(ask.Milliseconds())}
		resp, err := rpc.RenewLease(ctx, connect.NewRequest(req))
		if err != nil {
			if ctx.Err() == nil {
				log.Warn().Err(err).Msg("renew lease")
			}
			continue
		}
		if exp := resp.Msg.GetLease().GetExpiresUnixNano(); exp > 0 {
			every = max(cfg.Clock.Until(time.Unix(0, exp))/3, 50*time.Millisecond)
		}
	}
}

// Stop stops renewing and waits for the renewer to exit.
func (r *renewer) Stop() {
	r.cancel()
	<-r.done
}

// releaseLease gives the lease back, even when ctx is already cancelled: an
// unreleased lease only holds the server's checkpoint until it expires.
func releaseLease(ctx context.Context, rpc snapsyncv1connect.SnapshotServiceClient, g grant, log zerolog.Logger) {
	if g.leaseID == "" {
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if _, err := rpc.ReleaseLease(ctx, connect.NewRequest(&snapsyncv1.ReleaseLeaseRequest{LeaseId: g.leaseID})); err != nil {
		log.Debug().Err(err).Msg("release lease")
	}
}

// isMinIndex reports whether the server said no checkpoint reaches the
// index (reason.MinIndexNotReached): other FailedPrecondition errors, such as
// a source that failed to make a checkpoint, are not ErrMinIndex. The
// "Snapsync-Reason: min-index" trailer of servers before ErrorInfo is
// accepted too.
func isMinIndex(err error) bool {
	var ce *connect.Error
	if !errors.As(err, &ce) || ce.Code() != connect.CodeFailedPrecondition {
		return false
	}
	return reason.Is(ce, reason.MinIndexNotReached) || ce.Meta().Get("Snapsync-Reason") == "min-index"
}
