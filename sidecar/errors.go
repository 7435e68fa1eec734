package sidecar

import (
	"context"
	"errors"
	"maps"
	"strconv"
	"syscall"

	"connectrpc.com/connect"

	"github.com/snapsync/snapsync/client"
	"github.com/snapsync/snapsync/reason"
	"github.com/snapsync/snapsync/source/registry"
)

// Sentinel errors; match them with errors.Is. The handlers map them (and the
// errors of packages client and registry) to Connect codes in one place,
// toConnect.
var (
	// ErrBadConfig reports an InstallConfig that Validate refuses.
	ErrBadConfig = errors.New("sidecar: bad config")
	// ErrBadRequest reports a request with a missing or malformed field.
	ErrBadRequest = errors.New("sidecar: bad request")
	// ErrNotAllowed reports a destination that does not resolve strictly
	// below one of the allowed roots.
	ErrNotAllowed = errors.New("sidecar: destination not under an allowed root")
	// ErrNotPrepared reports a Commit with nothing prepared for the
	// destination.
	ErrNotPrepared = errors.New("sidecar: nothing prepared")
	// ErrUnknownSnapshot reports a Commit naming a snapshot other than the
	// prepared one.
	ErrUnknownSnapshot = errors.New("sidecar: not the prepared snapshot")
	// ErrPreparing reports a Commit while Prepare is still running.
	ErrPreparing = errors.New("sidecar: prepare still running")
	// ErrCommitting reports a Prepare, Commit or Abort while a Commit is under
	// way for the destination.
	ErrCommitting = errors.New("sidecar: commit under way")
	// ErrSuperseded ends a Prepare that a Prepare from another source, or
	// for a higher index, replaced; its message names the new source.
	ErrSuperseded = errors.New("sidecar: prepare superseded")
	// ErrAborted ends a Prepare that Abort stopped.
	ErrAborted = errors.New("sidecar: prepare aborted")
	// ErrClosed reports a call after Close, or a Prepare that Close stopped.
	ErrClosed = errors.New("sidecar: closed")
	// ErrRestarted ends, after a restart, a Prepare the service stopped in
	// (a crash, Close): the next Prepare resumes from what is staged.
	ErrRestarted = errors.New("sidecar: restarted during Prepare")
	// ErrNotLoopback reports a local listener address that is not loopback.
	ErrNotLoopback = errors.New("sidecar: local API address is not loopback")
)

// classify returns the Connect code and the reason (package reason) a caller
// sees for err, and the reason's metadata. An error caused by a peer's
// answer carries the peer's metadata (e.g. its newest index), and the peer's
// own reason where this side has no better one.
func classify(err error) (connect.Code, string, map[string]string) {
	peerReason, peerMD, fromPeer := reason.Of(err)
	var ns *client.NoSpaceError
	var stored *storedError
	switch {
	case errors.As(err, &stored): // read back after a restart
		return stored.code, stored.reason, nil
	case errors.As(err, &ns):
		return connect.CodeResourceExhausted, reason.NoSpace, map[string]string{
			reason.MetaNeedBytes:     strconv.FormatInt(ns.Need, 10),
			reason.MetaFreeBytes:     strconv.FormatInt(ns.Free, 10),
			reason.MetaHeadroomBytes: strconv.FormatInt(ns.Headroom, 10),
		}
	case errors.Is(err, client.ErrNoSpace), errors.Is(err, syscall.ENOSPC):
		return connect.CodeResourceExhausted, reason.NoSpace, nil
	case errors.Is(err, ErrBadRequest), errors.Is(err, client.ErrConfig):
		return connect.CodeInvalidArgument, reason.BadRequest, nil
	case errors.Is(err, registry.ErrRejected):
		return connect.CodeInvalidArgument, reason.CheckpointRejected, nil
	case errors.Is(err, ErrNotAllowed):
		return connect.CodePermissionDenied, reason.DestNotAllowed, nil
	case errors.Is(err, ErrUnknownSnapshot):
		return connect.CodeNotFound, reason.UnknownSnapshot, nil
	case errors.Is(err, client.ErrRollbackPending):
		return connect.CodeFailedPrecondition, reason.RollbackPending, nil
	case errors.Is(err, client.ErrNoRollback):
		return connect.CodeFailedPrecondition, reason.NoRollback, nil
	case errors.Is(err, ErrNotPrepared), errors.Is(err, client.ErrNotStaged):
		return connect.CodeFailedPrecondition, reason.NotStaged, nil
	case errors.Is(err, ErrPreparing):
		return connect.CodeFailedPrecondition, reason.PrepareInProgress, nil
	case errors.Is(err, ErrCommitting):
		return connect.CodeFailedPrecondition, reason.CommitInProgress, nil
	case errors.Is(err, client.ErrMinIndex):
		return connect.CodeFailedPrecondition, reason.MinIndexNotReached, peerMD
	case errors.Is(err, client.ErrRecoverNeeded):
		return connect.CodeFailedPrecondition, reason.SwapInterrupted, nil
	case errors.Is(err, client.ErrStagingUntrusted):
		return connect.CodeFailedPrecondition, reason.StagingUntrusted, nil
	case errors.Is(err, client.ErrStaging):
		return connect.CodeFailedPrecondition, reason.StagingInvalid, nil
	case errors.Is(err, ErrSuperseded):
		return connect.CodeAborted, reason.Superseded, nil
	case errors.Is(err, ErrRestarted):
		return connect.CodeAborted, reason.SidecarRestarted, nil
	case errors.Is(err, ErrAborted):
		return connect.CodeAborted, reason.Aborted, nil
	case errors.Is(err, client.ErrBusy):
		return connect.CodeAborted, reason.Busy, nil
	case errors.Is(err, ErrClosed):
		return connect.CodeUnavailable, reason.ShuttingDown, nil
	case errors.Is(err, client.ErrStalled):
		return connect.CodeUnavailable, reason.Stalled, nil
	case errors.Is(err, client.ErrUnavailable):
		return connect.CodeUnavailable, reason.PeerUnavailable, withPeerReason(peerMD, peerReason, reason.PeerUnavailable)
	case errors.Is(err, client.ErrTLS): // what it was after the retries, before they stopped for it
		return connect.CodeUnavailable, reason.PeerUnavailable, nil
	case errors.Is(err, client.ErrVerify):
		return connect.CodeDataLoss, reason.DataLoss, nil
	case errors.Is(err, context.Canceled):
		return connect.CodeCanceled, reason.Canceled, nil
	case errors.Is(err, context.DeadlineExceeded):
		return connect.CodeDeadlineExceeded, reason.DeadlineExceeded, nil
	}
	var ce *connect.Error
	if errors.As(err, &ce) { // e.g. client.ErrServer wrapping the peer's FailedPrecondition
		switch {
		case fromPeer && errors.Is(err, client.ErrServer) && peerReason != reason.Internal:
			return ce.Code(), peerReason, peerMD // e.g. CHECKPOINT_FAILED
		case errors.Is(err, client.ErrServer):
			return ce.Code(), reason.PeerProtocol, withPeerReason(peerMD, peerReason, reason.PeerProtocol)
		}
		return ce.Code(), reason.Internal, nil
	}
	if errors.Is(err, client.ErrServer) {
		return connect.CodeInternal, reason.PeerProtocol, nil
	}
	return connect.CodeInternal, reason.Internal, nil
}

// withPeerReason adds the peer's reason to md when it differs from ours.
func withPeerReason(md map[string]string, peer, ours string) map[string]string {
	if peer == "" || peer == ours {
		return md
	}
	out := make(map[string]string, len(md)+1)
	maps.Copy(out, md)
	out[reason.MetaPeerReason] = peer
	return out
}

// toConnect turns an error into the *connect.Error a caller sees, with its
// reason as a google.rpc.ErrorInfo detail: the one place where errors are
// mapped to codes and reasons.
func toConnect(err error) error {
	if err == nil {
		return nil
	}
	code, r, md := classify(err)
	return reason.New(code, err, r, md)
}
