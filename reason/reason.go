// Package reason names why a call to snapsync's peer API (SnapshotService)
// or local API (InstallService, RegistryService) failed, in a form a caller
// acts on without parsing messages: every error those APIs return carries a
// google.rpc.ErrorInfo detail whose domain is Domain and whose reason is one
// of the constants below. The table in docs/INTEGRATION.md lists each with
// its code, its metadata and what a node does.
//
// The reasons are strings, not a proto enum: ErrorInfo.reason is a string on
// the wire whatever we declare, a Java or grpcurl caller compares it with the
// documented names, and adding one here changes no generated code.
package reason

import (
	"errors"

	"connectrpc.com/connect"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
)

// Domain is the ErrorInfo domain of every snapsync reason.
const Domain = "snapsync.dev"

// The reasons. Their spelling is part of the API: never change one.
const (
	// MinIndexNotReached: no checkpoint of the peer reaches min_index
	// (FAILED_PRECONDITION). Metadata: MetaNewestIndex when the peer knows
	// its newest index, MetaMinIndex.
	MinIndexNotReached = "MIN_INDEX_NOT_REACHED"
	// CheckpointFailed: the peer's source could not make a checkpoint (its
	// checkpoint command failed or printed garbage, a DB error)
	// (FAILED_PRECONDITION).
	CheckpointFailed = "CHECKPOINT_FAILED"
	// NoCheckpointMaker: no checkpoint of the peer reaches min_index and
	// nothing there can make one: no node watches for checkpoint requests
	// and no checkpoint command is configured (FAILED_PRECONDITION).
	// Metadata: as MinIndexNotReached.
	NoCheckpointMaker = "NO_CHECKPOINT_MAKER"
	// CheckpointTimeout: the peer asked its node for a checkpoint reaching
	// min_index and none was registered within its --checkpoint-timeout
	// (FAILED_PRECONDITION). Metadata: as MinIndexNotReached.
	CheckpointTimeout = "CHECKPOINT_TIMEOUT"
	// CheckpointChanged: a file of the checkpoint changed while the peer
	// served it (DATA_LOSS).
	CheckpointChanged = "CHECKPOINT_CHANGED"
	// UnknownSnapshot: no such snapshot (peer), or not the prepared one
	// (local Commit) (NOT_FOUND).
	UnknownSnapshot = "UNKNOWN_SNAPSHOT"
	// LeaseExpired: the peer does not know the lease (NOT_FOUND).
	LeaseExpired = "LEASE_EXPIRED"
	// TooManyStreams: the peer serves as many streams as it may
	// (RESOURCE_EXHAUSTED).
	TooManyStreams = "TOO_MANY_STREAMS"
	// SwapInterrupted: a crash interrupted a swap; Abort{keep_staging: true}
	// recovers it (FAILED_PRECONDITION).
	SwapInterrupted = "SWAP_INTERRUPTED"
	// PrepareInProgress: Commit while Prepare still runs (FAILED_PRECONDITION).
	PrepareInProgress = "PREPARE_IN_PROGRESS"
	// CommitInProgress: a call while a Commit runs for the destination
	// (FAILED_PRECONDITION).
	CommitInProgress = "COMMIT_IN_PROGRESS"
	// NotStaged: Commit with nothing prepared (FAILED_PRECONDITION).
	NotStaged = "NOT_STAGED"
	// RollbackPending: Commit while the DB an earlier Commit with keep_old
	// replaced is still kept; Finalize or Rollback first
	// (FAILED_PRECONDITION).
	RollbackPending = "ROLLBACK_PENDING"
	// NoRollback: Rollback with nothing kept to put back: no Commit with
	// keep_old, or it was finalized or rolled back already
	// (FAILED_PRECONDITION).
	NoRollback = "NO_ROLLBACK"
	// NoSpace: the staging filesystem lacks the space the install needs, or
	// filled up during it (RESOURCE_EXHAUSTED). Metadata: MetaNeedBytes,
	// MetaFreeBytes, MetaHeadroomBytes when the check before the first byte
	// refused.
	NoSpace = "NO_SPACE"
	// DataLoss: data still failed verification after the retries
	// (DATA_LOSS).
	DataLoss = "DATA_LOSS"
	// PeerUnavailable: the peer stayed unreachable or busy through the
	// client's retries, or the TLS handshake with it failed for a reason no
	// retry fixes (not retried; the message names the certificate problem)
	// (UNAVAILABLE).
	PeerUnavailable = "PEER_UNAVAILABLE"
	// PeerProtocol: the peer broke the protocol or failed in a way not worth
	// retrying at once (the peer's own code, else INTERNAL).
	PeerProtocol = "PEER_PROTOCOL"
	// Stalled: the peer made no progress for the stall limit (UNAVAILABLE).
	Stalled = "STALLED"
	// Unauthenticated: the caller did not prove who it is (UNAUTHENTICATED).
	Unauthenticated = "UNAUTHENTICATED"
	// PermissionDenied: the caller is not allowed (PERMISSION_DENIED).
	PermissionDenied = "PERMISSION_DENIED"
	// DestNotAllowed: dest is not strictly below an allowed root
	// (PERMISSION_DENIED).
	DestNotAllowed = "DEST_NOT_ALLOWED"
	// BadRequest: a missing or malformed field, or a bad setting
	// (INVALID_ARGUMENT).
	BadRequest = "BAD_REQUEST"
	// CheckpointRejected: RegisterCheckpoint refused the directory
	// (INVALID_ARGUMENT).
	CheckpointRejected = "CHECKPOINT_REJECTED"
	// StagingUntrusted: the staging area is not this process's own (a
	// symlink, another uid's, group- or world-writable); it is left alone
	// (FAILED_PRECONDITION).
	StagingUntrusted = "STAGING_UNTRUSTED"
	// StagingInvalid: the staging area cannot be used as found
	// (FAILED_PRECONDITION).
	StagingInvalid = "STAGING_INVALID"
	// Busy: another install holds the staging area's lock (ABORTED).
	Busy = "BUSY"
	// Superseded: a Prepare from another source or for a higher index
	// replaced this one (ABORTED).
	Superseded = "SUPERSEDED"
	// Aborted: Abort stopped this Prepare (ABORTED).
	Aborted = "ABORTED"
	// SidecarRestarted: the sidecar stopped (a crash, a restart) while a
	// Prepare ran; Status reports it after the restart, and the next Prepare
	// resumes from what is staged (ABORTED).
	SidecarRestarted = "SIDECAR_RESTARTED"
	// ShuttingDown: the service is closing (UNAVAILABLE).
	ShuttingDown = "SHUTTING_DOWN"
	// Canceled and DeadlineExceeded: the caller's context ended (CANCELED,
	// DEADLINE_EXCEEDED).
	Canceled         = "CANCELED"
	DeadlineExceeded = "DEADLINE_EXCEEDED"
	// Internal: anything else (INTERNAL).
	Internal = "INTERNAL"
)

// Metadata keys.
const (
	MetaNewestIndex   = "newest_index"
	MetaMinIndex      = "min_index"
	MetaNeedBytes     = "need_bytes"
	MetaFreeBytes     = "free_bytes"
	MetaHeadroomBytes = "headroom_bytes"
	// MetaPeerReason is the peer's own reason, on a local error caused by a
	// peer's answer whose reason differs.
	MetaPeerReason = "peer_reason"
)

// New returns err as a *connect.Error with code and an ErrorInfo detail
// carrying reason and md.
func New(code connect.Code, err error, reason string, md map[string]string) *connect.Error {
	ce := connect.NewError(code, err)
	Attach(ce, reason, md)
	return ce
}

// Attach adds an ErrorInfo detail with reason and md to ce.
func Attach(ce *connect.Error, reason string, md map[string]string) {
	d, err := connect.NewErrorDetail(&errdetails.ErrorInfo{Reason: reason, Domain: Domain, Metadata: md})
	if err != nil {
		return // marshalling an ErrorInfo cannot fail; the code still tells the caller
	}
	ce.AddDetail(d)
}

// Of returns the snapsync reason and metadata of the first *connect.Error in
// err's chain that carries one.
func Of(err error) (string, map[string]string, bool) {
	for err != nil {
		var ce *connect.Error
		if !errors.As(err, &ce) {
			return "", nil, false
		}
		for _, d := range ce.Details() {
			v, derr := d.Value()
			if derr != nil {
				continue
			}
			if info, ok := v.(*errdetails.ErrorInfo); ok && info.GetDomain() == Domain {
				return info.GetReason(), info.GetMetadata(), true
			}
		}
		err = ce.Unwrap() // a peer error wrapped in a local one
	}
	return "", nil, false
}

// Is reports whether err carries reason.
func Is(err error, reason string) bool {
	r, _, ok := Of(err)
	return ok && r == reason
}
