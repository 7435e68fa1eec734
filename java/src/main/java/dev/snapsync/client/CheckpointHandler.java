package dev.snapsync.client;

import dev.snapsync.v1.CheckpointRequest;

/**
 * Makes a checkpoint when the sidecar asks for one ({@link SnapsyncCheckpoints#watch}). Its
 * methods run on one thread of the watch, one call at a time; only {@link #checkpoint} is
 * required.
 */
public interface CheckpointHandler {
  /**
   * Makes a checkpoint reflecting at least {@code request.getMinIndex()} in a fresh directory
   * under the sidecar's registry root (an OM: {@code RDBStore.getCheckpoint(true)} under the
   * bootstrap lock, with the snapshot DBs hard-linked beside it). The watch registers it with the
   * request's ID.
   *
   * @param request the sidecar's request: its ID and the index the checkpoint must reach
   * @return the checkpoint, or null to leave this request unanswered (another watcher, or a
   *     later registration, may answer it)
   * @throws Exception if no checkpoint could be made; it goes to {@link #failed}
   */
  Checkpoint checkpoint(CheckpointRequest request) throws Exception;

  /**
   * Called once a checkpoint made for {@code request} is registered.
   *
   * @param request the request it answers
   * @param checkpoint the registered checkpoint
   */
  default void registered(CheckpointRequest request, Checkpoint checkpoint) {}

  /**
   * Called when {@link #checkpoint} threw, or the sidecar refused to register its checkpoint (for
   * instance {@link Reason#CHECKPOINT_REJECTED}: another registration at that index won). A
   * refused checkpoint is the node's to delete.
   *
   * @param request the request
   * @param checkpoint the checkpoint the sidecar refused, or null if none was made
   * @param error what went wrong
   */
  default void failed(CheckpointRequest request, Checkpoint checkpoint, Exception error) {}

  /**
   * Called when the watch stream ended or failed; the watch opens it again after {@code
   * retryMillis}.
   *
   * @param cause the stream's failure, or null if the sidecar ended it
   * @param retryMillis how long the watch waits before it reconnects
   */
  default void disconnected(SnapsyncException cause, long retryMillis) {}
}
