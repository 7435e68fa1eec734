package dev.snapsync.client;

import dev.snapsync.v1.RegisterCheckpointRequest;
import dev.snapsync.v1.RegistryServiceGrpc;
import io.grpc.Channel;
import io.grpc.ManagedChannel;
import io.grpc.StatusRuntimeException;
import java.util.Collections;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * The leader side: tells the node's own sidecar ({@code snapsync serve --source registry:ROOT})
 * about the checkpoints the node makes ({@code snapsync.v1.RegistryService}).
 *
 * <pre>{@code
 * SnapsyncCheckpoints checkpoints = SnapsyncCheckpoints.loopback("127.0.0.1:7601", token);
 * checkpoints.watch(request -> {
 *   // under the bootstrap lock: a checkpoint of om.db with db.snapshots beside it, in a fresh dir
 *   String dir = makeCheckpoint(root);
 *   TransactionInfo t = readTransactionInfo(dir);
 *   return new Checkpoint(dir, t.getTerm(), t.getIndex());
 * });
 * ...
 * checkpoints.close();
 * }</pre>
 *
 * <p>A checkpoint the node makes on its own goes in with {@link #register}. Never delete a
 * registered directory: the sidecar deletes it once a newer one supersedes it. Thread-safe.
 */
public final class SnapsyncCheckpoints implements AutoCloseable {
  private final RegistryServiceGrpc.RegistryServiceBlockingStub blocking;
  private final RegistryServiceGrpc.RegistryServiceStub async;
  private final SnapsyncOptions options;
  private final Timers timers;
  private final ManagedChannel owned;

  private final Object lock = new Object();
  private boolean closed; // guarded by lock
  private CheckpointWatch watch; // guarded by lock

  /**
   * Makes a client on a channel the caller owns, with the default options.
   *
   * @param channel a channel to the sidecar's local API
   */
  public SnapsyncCheckpoints(Channel channel) {
    this(channel, SnapsyncOptions.defaults());
  }

  /**
   * Makes a client on a channel the caller owns.
   *
   * @param channel a channel to the sidecar's local API
   * @param options call timeout, watch backoff and scheduler
   */
  public SnapsyncCheckpoints(Channel channel, SnapsyncOptions options) {
    this(channel, options, null);
  }

  private SnapsyncCheckpoints(Channel channel, SnapsyncOptions options, ManagedChannel owned) {
    this.blocking = RegistryServiceGrpc.newBlockingStub(channel);
    this.async = RegistryServiceGrpc.newStub(channel);
    this.options = options;
    this.timers = new Timers(options, "snapsync-checkpoints-timer");
    this.owned = owned;
  }

  /**
   * Makes a client on a channel of its own to a sidecar whose local API listens on loopback TCP;
   * {@link #close()} shuts the channel down.
   *
   * @param target the local API's {@code host:port}; the host must be a loopback address
   * @param token the token of the sidecar's {@code --local-token-file}
   * @return the client
   * @throws IllegalArgumentException if the target is not a loopback {@code host:port} or the
   *     token is empty
   */
  public static SnapsyncCheckpoints loopback(String target, String token) {
    return loopback(target, token, SnapsyncOptions.defaults());
  }

  /**
   * As {@link #loopback(String, String)}, with options.
   *
   * @param target the local API's loopback {@code host:port}
   * @param token the token of the sidecar's {@code --local-token-file}
   * @param options call timeout, watch backoff and scheduler
   * @return the client
   */
  public static SnapsyncCheckpoints loopback(
      String target, String token, SnapsyncOptions options) {
    ManagedChannel channel = Channels.loopback(target, token);
    return new SnapsyncCheckpoints(channel, options, channel);
  }

  /**
   * Offers a checkpoint the node made to the sidecar, which serves it to peers from then on.
   *
   * @param dir the checkpoint's absolute directory under the registry root, as the sidecar sees
   *     it; it must hold a DB (an OM: {@code om.db} and {@code db.snapshots}), only directories and
   *     regular files, and be newer than the one registered before
   * @param term the Raft term of the last transaction it reflects
   * @param index the Raft index of the last transaction it reflects
   * @param requestId the {@code request_id} of the request it answers, or empty or null for one
   *     the node made on its own
   * @param labels labels for its manifest, or null
   * @return how many registered checkpoints the sidecar now holds
   * @throws SnapsyncException if the sidecar refused it ({@link Reason#CHECKPOINT_REJECTED}: the
   *     directory is the node's to delete) or failed
   */
  public int register(
      String dir, long term, long index, String requestId, Map<String, String> labels)
      throws SnapsyncException {
    RegisterCheckpointRequest req =
        RegisterCheckpointRequest.newBuilder()
            .setDir(dir)
            .setTerm(term)
            .setIndex(index)
            .setRequestId(requestId == null ? "" : requestId)
            .putAllLabels(labels == null ? Collections.<String, String>emptyMap() : labels)
            .build();
    try {
      return blocking
          .withDeadlineAfter(options.callTimeout().toNanos(), TimeUnit.NANOSECONDS)
          .registerCheckpoint(req)
          .getRegistered();
    } catch (StatusRuntimeException e) {
      throw SnapsyncException.from(e);
    }
  }

  /**
   * Starts answering the sidecar's checkpoint requests in the background: keeps {@code
   * WatchCheckpointRequests} open, opening it again with bounded exponential backoff ({@link
   * SnapsyncOptions#withBackoff}) whenever it ends or fails, and for each request calls the
   * handler and registers the checkpoint it returns with the request's ID. Returns at once;
   * {@link #close()} stops it.
   *
   * @param handler makes the checkpoints
   * @throws IllegalStateException if a watch runs already or the client is closed
   */
  public void watch(CheckpointHandler handler) {
    CheckpointWatch w;
    synchronized (lock) {
      if (closed) {
        throw new IllegalStateException("closed");
      }
      if (watch != null) {
        throw new IllegalStateException("a watch runs already");
      }
      w = new CheckpointWatch(this, async, handler, timers.scheduler, options);
      watch = w;
    }
    w.start();
  }

  /**
   * Stops the watch (a checkpoint being made is finished but not registered), the client's own
   * timer thread and, for a client made by {@link #loopback}, its channel. A channel the caller
   * passed in is left open.
   */
  @Override
  public void close() {
    CheckpointWatch w;
    synchronized (lock) {
      closed = true;
      w = watch;
    }
    if (w != null) {
      w.stop();
    }
    timers.close();
    Channels.shutdown(owned);
  }

  @Override
  public String toString() {
    return "SnapsyncCheckpoints{" + options + "}";
  }
}
