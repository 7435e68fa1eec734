package reason

import "connectrpc.com/connect"

// Info describes one reason: its name on the wire, the code a call failing
// with it usually ends with, and what it means in one line.
type Info struct {
	Name string
	Code connect.Code
	Doc  string
}

// All returns every reason, in the order the constants are declared. The
// clients of other languages are generated from it (the Java enum
// java/src/main/java/dev/snapsync/client/Reason.java: go test ./reason
// -update); a test fails when a constant is missing here.
func All() []Info {
	return []Info{
		{MinIndexNotReached, connect.CodeFailedPrecondition, "No checkpoint of the peer reaches min_index (metadata: newest_index when known, min_index)."},
		{CheckpointFailed, connect.CodeFailedPrecondition, "The peer's source could not make a checkpoint (its checkpoint command failed, a DB error)."},
		{NoCheckpointMaker, connect.CodeFailedPrecondition, "No checkpoint of the peer reaches min_index and nothing there can make one (metadata: as MIN_INDEX_NOT_REACHED)."},
		{CheckpointTimeout, connect.CodeFailedPrecondition, "The peer's node registered no checkpoint reaching min_index within --checkpoint-timeout (metadata: as MIN_INDEX_NOT_REACHED)."},
		{CheckpointChanged, connect.CodeDataLoss, "A file of the checkpoint changed while the peer served it."},
		{UnknownSnapshot, connect.CodeNotFound, "No such snapshot (peer), or not the prepared one (local Commit)."},
		{LeaseExpired, connect.CodeNotFound, "The peer does not know the lease."},
		{TooManyStreams, connect.CodeResourceExhausted, "The peer serves as many streams as it may."},
		{SwapInterrupted, connect.CodeFailedPrecondition, "A crash interrupted a swap; Abort with keep_staging recovers it."},
		{PrepareInProgress, connect.CodeFailedPrecondition, "Commit while Prepare still runs."},
		{CommitInProgress, connect.CodeFailedPrecondition, "A call while a Commit runs for the destination."},
		{NotStaged, connect.CodeFailedPrecondition, "Commit with nothing prepared."},
		{RollbackPending, connect.CodeFailedPrecondition, "Commit while the DB an earlier Commit with keep_old replaced is still kept; Finalize or Rollback first."},
		{NoRollback, connect.CodeFailedPrecondition, "Rollback with nothing kept to put back."},
		{NoSpace, connect.CodeResourceExhausted, "The staging filesystem lacks the space the install needs (metadata: need_bytes, free_bytes, headroom_bytes)."},
		{DataLoss, connect.CodeDataLoss, "Data still failed verification after the retries."},
		{PeerUnavailable, connect.CodeUnavailable, "The peer stayed unreachable or busy through the retries."},
		{PeerProtocol, connect.CodeInternal, "The peer broke the protocol or failed in a way not worth retrying at once (the peer's own code, else INTERNAL)."},
		{Stalled, connect.CodeUnavailable, "The peer made no progress for the stall limit."},
		{Unauthenticated, connect.CodeUnauthenticated, "The caller did not prove who it is."},
		{PermissionDenied, connect.CodePermissionDenied, "The caller is not allowed."},
		{DestNotAllowed, connect.CodePermissionDenied, "dest is not strictly below an allowed root."},
		{BadRequest, connect.CodeInvalidArgument, "A missing or malformed field, or a bad setting."},
		{CheckpointRejected, connect.CodeInvalidArgument, "RegisterCheckpoint refused the directory."},
		{StagingUntrusted, connect.CodeFailedPrecondition, "The staging area is not the sidecar's own (a symlink, another uid's, group- or world-writable); it is left alone."},
		{StagingInvalid, connect.CodeFailedPrecondition, "The staging area cannot be used as found."},
		{Busy, connect.CodeAborted, "Another install holds the staging area's lock."},
		{Superseded, connect.CodeAborted, "A Prepare from another source or for a higher index replaced this one."},
		{Aborted, connect.CodeAborted, "Abort stopped this Prepare."},
		{SidecarRestarted, connect.CodeAborted, "The sidecar stopped while a Prepare ran; the next Prepare resumes from what is staged."},
		{ShuttingDown, connect.CodeUnavailable, "The service is closing."},
		{Canceled, connect.CodeCanceled, "The caller's context was canceled."},
		{DeadlineExceeded, connect.CodeDeadlineExceeded, "The caller's deadline passed."},
		{Internal, connect.CodeInternal, "Anything else."},
	}
}
