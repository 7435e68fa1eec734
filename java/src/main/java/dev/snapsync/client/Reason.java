// Code generated from the Go package reason (reason/all.go) by reason/java_test.go; DO NOT EDIT.
// Regenerate with: go test ./reason -update

package dev.snapsync.client;

import io.grpc.Status;
import java.util.HashMap;
import java.util.Map;

/**
 * Why a call to snapsync failed: the reason of the {@code google.rpc.ErrorInfo} detail, domain
 * {@value #DOMAIN}, that every error of the sidecar's APIs carries ({@link
 * SnapsyncException#reason()}). Compare reasons, never messages. A reason that a newer sidecar
 * sends and this library does not know is {@link #UNKNOWN}; its name is still in {@link
 * SnapsyncException#reasonName()}.
 */
public enum Reason {
  /** No checkpoint of the peer reaches min_index (metadata: newest_index when known, min_index). Usually {@code FAILED_PRECONDITION}. */
  MIN_INDEX_NOT_REACHED(Status.Code.FAILED_PRECONDITION, "No checkpoint of the peer reaches min_index (metadata: newest_index when known, min_index)."),
  /** The peer's source could not make a checkpoint (its checkpoint command failed, a DB error). Usually {@code FAILED_PRECONDITION}. */
  CHECKPOINT_FAILED(Status.Code.FAILED_PRECONDITION, "The peer's source could not make a checkpoint (its checkpoint command failed, a DB error)."),
  /** No checkpoint of the peer reaches min_index and nothing there can make one (metadata: as MIN_INDEX_NOT_REACHED). Usually {@code FAILED_PRECONDITION}. */
  NO_CHECKPOINT_MAKER(Status.Code.FAILED_PRECONDITION, "No checkpoint of the peer reaches min_index and nothing there can make one (metadata: as MIN_INDEX_NOT_REACHED)."),
  /** The peer's node registered no checkpoint reaching min_index within --checkpoint-timeout (metadata: as MIN_INDEX_NOT_REACHED). Usually {@code FAILED_PRECONDITION}. */
  CHECKPOINT_TIMEOUT(Status.Code.FAILED_PRECONDITION, "The peer's node registered no checkpoint reaching min_index within --checkpoint-timeout (metadata: as MIN_INDEX_NOT_REACHED)."),
  /** A file of the checkpoint changed while the peer served it. Usually {@code DATA_LOSS}. */
  CHECKPOINT_CHANGED(Status.Code.DATA_LOSS, "A file of the checkpoint changed while the peer served it."),
  /** No such snapshot (peer), or not the prepared one (local Commit). Usually {@code NOT_FOUND}. */
  UNKNOWN_SNAPSHOT(Status.Code.NOT_FOUND, "No such snapshot (peer), or not the prepared one (local Commit)."),
  /** The peer does not know the lease. Usually {@code NOT_FOUND}. */
  LEASE_EXPIRED(Status.Code.NOT_FOUND, "The peer does not know the lease."),
  /** The peer serves as many streams as it may. Usually {@code RESOURCE_EXHAUSTED}. */
  TOO_MANY_STREAMS(Status.Code.RESOURCE_EXHAUSTED, "The peer serves as many streams as it may."),
  /** A crash interrupted a swap; Abort with keep_staging recovers it. Usually {@code FAILED_PRECONDITION}. */
  SWAP_INTERRUPTED(Status.Code.FAILED_PRECONDITION, "A crash interrupted a swap; Abort with keep_staging recovers it."),
  /** Commit while Prepare still runs. Usually {@code FAILED_PRECONDITION}. */
  PREPARE_IN_PROGRESS(Status.Code.FAILED_PRECONDITION, "Commit while Prepare still runs."),
  /** A call while a Commit runs for the destination. Usually {@code FAILED_PRECONDITION}. */
  COMMIT_IN_PROGRESS(Status.Code.FAILED_PRECONDITION, "A call while a Commit runs for the destination."),
  /** Commit with nothing prepared. Usually {@code FAILED_PRECONDITION}. */
  NOT_STAGED(Status.Code.FAILED_PRECONDITION, "Commit with nothing prepared."),
  /** Commit while the DB an earlier Commit with keep_old replaced is still kept; Finalize or Rollback first. Usually {@code FAILED_PRECONDITION}. */
  ROLLBACK_PENDING(Status.Code.FAILED_PRECONDITION, "Commit while the DB an earlier Commit with keep_old replaced is still kept; Finalize or Rollback first."),
  /** Rollback with nothing kept to put back. Usually {@code FAILED_PRECONDITION}. */
  NO_ROLLBACK(Status.Code.FAILED_PRECONDITION, "Rollback with nothing kept to put back."),
  /** The staging filesystem lacks the space the install needs (metadata: need_bytes, free_bytes, headroom_bytes). Usually {@code RESOURCE_EXHAUSTED}. */
  NO_SPACE(Status.Code.RESOURCE_EXHAUSTED, "The staging filesystem lacks the space the install needs (metadata: need_bytes, free_bytes, headroom_bytes)."),
  /** Data still failed verification after the retries. Usually {@code DATA_LOSS}. */
  DATA_LOSS(Status.Code.DATA_LOSS, "Data still failed verification after the retries."),
  /** The peer stayed unreachable or busy through the retries. Usually {@code UNAVAILABLE}. */
  PEER_UNAVAILABLE(Status.Code.UNAVAILABLE, "The peer stayed unreachable or busy through the retries."),
  /** The peer broke the protocol or failed in a way not worth retrying at once (the peer's own code, else INTERNAL). Usually {@code INTERNAL}. */
  PEER_PROTOCOL(Status.Code.INTERNAL, "The peer broke the protocol or failed in a way not worth retrying at once (the peer's own code, else INTERNAL)."),
  /** The peer made no progress for the stall limit. Usually {@code UNAVAILABLE}. */
  STALLED(Status.Code.UNAVAILABLE, "The peer made no progress for the stall limit."),
  /** The caller did not prove who it is. Usually {@code UNAUTHENTICATED}. */
  UNAUTHENTICATED(Status.Code.UNAUTHENTICATED, "The caller did not prove who it is."),
  /** The caller is not allowed. Usually {@code PERMISSION_DENIED}. */
  PERMISSION_DENIED(Status.Code.PERMISSION_DENIED, "The caller is not allowed."),
  /** dest is not strictly below an allowed root. Usually {@code PERMISSION_DENIED}. */
  DEST_NOT_ALLOWED(Status.Code.PERMISSION_DENIED, "dest is not strictly below an allowed root."),
  /** A missing or malformed field, or a bad setting. Usually {@code INVALID_ARGUMENT}. */
  BAD_REQUEST(Status.Code.INVALID_ARGUMENT, "A missing or malformed field, or a bad setting."),
  /** RegisterCheckpoint refused the directory. Usually {@code INVALID_ARGUMENT}. */
  CHECKPOINT_REJECTED(Status.Code.INVALID_ARGUMENT, "RegisterCheckpoint refused the directory."),
  /** The staging area is not the sidecar's own (a symlink, another uid's, group- or world-writable); it is left alone. Usually {@code FAILED_PRECONDITION}. */
  STAGING_UNTRUSTED(Status.Code.FAILED_PRECONDITION, "The staging area is not the sidecar's own (a symlink, another uid's, group- or world-writable); it is left alone."),
  /** The staging area cannot be used as found. Usually {@code FAILED_PRECONDITION}. */
  STAGING_INVALID(Status.Code.FAILED_PRECONDITION, "The staging area cannot be used as found."),
  /** Another install holds the staging area's lock. Usually {@code ABORTED}. */
  BUSY(Status.Code.ABORTED, "Another install holds the staging area's lock."),
  /** A Prepare from another source or for a higher index replaced this one. Usually {@code ABORTED}. */
  SUPERSEDED(Status.Code.ABORTED, "A Prepare from another source or for a higher index replaced this one."),
  /** Abort stopped this Prepare. Usually {@code ABORTED}. */
  ABORTED(Status.Code.ABORTED, "Abort stopped this Prepare."),
  /** The sidecar stopped while a Prepare ran; the next Prepare resumes from what is staged. Usually {@code ABORTED}. */
  SIDECAR_RESTARTED(Status.Code.ABORTED, "The sidecar stopped while a Prepare ran; the next Prepare resumes from what is staged."),
  /** The service is closing. Usually {@code UNAVAILABLE}. */
  SHUTTING_DOWN(Status.Code.UNAVAILABLE, "The service is closing."),
  /** The caller's context was canceled. Usually {@code CANCELLED}. */
  CANCELED(Status.Code.CANCELLED, "The caller's context was canceled."),
  /** The caller's deadline passed. Usually {@code DEADLINE_EXCEEDED}. */
  DEADLINE_EXCEEDED(Status.Code.DEADLINE_EXCEEDED, "The caller's deadline passed."),
  /** Anything else. Usually {@code INTERNAL}. */
  INTERNAL(Status.Code.INTERNAL, "Anything else."),
  /** A reason this library does not know, or an error that carries none. */
  UNKNOWN(Status.Code.UNKNOWN, "A reason this library does not know, or none.");

  /** The {@code google.rpc.ErrorInfo} domain of every snapsync reason. */
  public static final String DOMAIN = "snapsync.dev";

  private static final Map<String, Reason> BY_NAME = new HashMap<String, Reason>();

  static {
    for (Reason r : values()) {
      if (r != UNKNOWN) {
        BY_NAME.put(r.name(), r);
      }
    }
  }

  private final Status.Code code;
  private final String doc;

  Reason(Status.Code code, String doc) {
    this.code = code;
    this.doc = doc;
  }

  /**
   * Returns the gRPC status code a call failing with this reason usually ends with.
   *
   * @return the usual code
   */
  public Status.Code code() {
    return code;
  }

  /**
   * Returns what this reason means, in one line.
   *
   * @return the reason's documentation
   */
  public String doc() {
    return doc;
  }

  /**
   * Returns the reason of this name, as it travels in {@code ErrorInfo.reason}.
   *
   * @param name the reason's name, e.g. {@code "MIN_INDEX_NOT_REACHED"}; may be null
   * @return the reason, or {@link #UNKNOWN} for a name this library does not know, empty or null
   */
  public static Reason of(String name) {
    Reason r = name == null ? null : BY_NAME.get(name);
    return r == null ? UNKNOWN : r;
  }
}
