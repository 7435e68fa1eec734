package dev.snapsync.client;

import com.google.protobuf.ByteString;
import dev.snapsync.v1.AbortRequest;
import dev.snapsync.v1.CommitRequest;
import dev.snapsync.v1.CommitResponse;
import dev.snapsync.v1.FinalizeRequest;
import dev.snapsync.v1.InstallServiceGrpc;
import dev.snapsync.v1.PrepareRequest;
import dev.snapsync.v1.RollbackRequest;
import dev.snapsync.v1.SnapshotInfo;
import dev.snapsync.v1.StatusRequest;
import dev.snapsync.v1.StatusResponse;
import io.grpc.Channel;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.util.Collections;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

/**
 * The follower side: installs a peer's checkpoint through the node's own sidecar
 * ({@code snapsync.v1.InstallService}). The documented sequence, for an Ozone Manager told by
 * Ratis to install a snapshot:
 *
 * <pre>{@code
 * SnapshotInfo s = installer.prepare(metaDir, peers, minIndex, Arrays.asList("om.db", "db.snapshots"),
 *     p -> LOG.info("install: {}", p)).get();          // the node keeps running meanwhile
 * // stop the state machine, close the DB
 * installer.commit(metaDir, s.getSnapshotId(), Collections.emptyList(), true);
 * // reopen the DB, check its TransactionInfo equals s.getTerm() and s.getIndex()
 * installer.finalizeInstall(metaDir);                  // or, if the check failed: rollback(metaDir)
 * }</pre>
 *
 * <p>The caller builds the {@link Channel} (a unix socket through netty's epoll transport and a
 * {@code DomainSocketAddress}, or loopback TCP with a {@link BearerToken}), or uses {@link
 * #loopback(String, String)}. Unary calls get the deadline of {@link
 * SnapsyncOptions#callTimeout()} and throw {@link SnapsyncException}; a Prepare has no deadline,
 * only an idle watchdog ({@link SnapsyncOptions#idleTimeout()}). Thread-safe.
 */
public final class SnapsyncInstaller implements AutoCloseable {
  private final InstallServiceGrpc.InstallServiceBlockingStub blocking;
  private final InstallServiceGrpc.InstallServiceStub async;
  private final SnapsyncOptions options;
  private final Timers timers;
  private final ManagedChannel owned;
  private final Set<PrepareCall> running =
      Collections.newSetFromMap(new ConcurrentHashMap<PrepareCall, Boolean>());

  /**
   * Makes an installer on a channel the caller owns, with the default options.
   *
   * @param channel a channel to the sidecar's local API
   */
  public SnapsyncInstaller(Channel channel) {
    this(channel, SnapsyncOptions.defaults());
  }

  /**
   * Makes an installer on a channel the caller owns.
   *
   * @param channel a channel to the sidecar's local API
   * @param options timeouts and scheduler
   */
  public SnapsyncInstaller(Channel channel, SnapsyncOptions options) {
    this(channel, options, null);
  }

  private SnapsyncInstaller(Channel channel, SnapsyncOptions options, ManagedChannel owned) {
    this.blocking = InstallServiceGrpc.newBlockingStub(channel);
    this.async = InstallServiceGrpc.newStub(channel);
    this.options = options;
    this.timers = new Timers(options, "snapsync-installer-timer");
    this.owned = owned;
  }

  /**
   * Makes an installer on a channel of its own to a sidecar whose local API listens on loopback
   * TCP ({@code --local-listen 127.0.0.1:PORT --local-token-file FILE}); {@link #close()} shuts
   * the channel down.
   *
   * @param target the local API's {@code host:port}, e.g. the content of {@code
   *     --local-addr-file}; the host must be a loopback address
   * @param token the token of {@code --local-token-file}
   * @return the installer
   * @throws IllegalArgumentException if the target is not a loopback {@code host:port} or the
   *     token is empty
   */
  public static SnapsyncInstaller loopback(String target, String token) {
    return loopback(target, token, SnapsyncOptions.defaults());
  }

  /**
   * As {@link #loopback(String, String)}, with options.
   *
   * @param target the local API's loopback {@code host:port}
   * @param token the token of {@code --local-token-file}
   * @param options timeouts and scheduler
   * @return the installer
   */
  public static SnapsyncInstaller loopback(String target, String token, SnapsyncOptions options) {
    ManagedChannel channel = Channels.loopback(target, token);
    return new SnapsyncInstaller(channel, options, channel);
  }

  /**
   * Starts a Prepare: the sidecar fetches, verifies and stages a checkpoint reaching {@code
   * minIndex} from the best of {@code sourceUrls} while the node keeps running. The future
   * completes with the staged snapshot (pass its {@code snapshot_id} to {@link #commit}), or
   * fails with a {@link SnapsyncException}: the sidecar's error, or, when the sidecar sends no
   * message for the idle timeout, code {@code DEADLINE_EXCEEDED} and reason {@link
   * Reason#STALLED} (metadata {@code idle_timeout_ms}). Cancelling the future cancels the call;
   * what is staged is kept for the next Prepare. A repeated Prepare with the same arguments
   * joins the one under way.
   *
   * @param dest the directory Commit will change (an OM: its metadata directory), as the sidecar
   *     sees it
   * @param sourceUrls peer sidecars' base URLs, the leader last, e.g. {@code https://om2:7600}
   * @param minIndex the lowest Raft index that will do (Ratis: {@code
   *     firstTermIndexInLog.getIndex() - 1})
   * @param replace the entries of {@code dest} to replace as one unit (an OM: {@code om.db} and
   *     {@code db.snapshots}); empty to replace {@code dest} whole
   * @param listener receives each progress message, or null
   * @return the future prepared snapshot
   */
  public CompletableFuture<SnapshotInfo> prepare(
      String dest, List<String> sourceUrls, long minIndex, List<String> replace,
      ProgressListener listener) {
    PrepareRequest.Builder req =
        PrepareRequest.newBuilder().setDest(dest).setMinIndex(minIndex).addAllSourceUrls(sourceUrls);
    if (replace != null) {
      req.addAllReplace(replace);
    }
    return prepare(req.build(), listener);
  }

  /**
   * Starts a Prepare of a request built by the caller; see {@link #prepare(String, List, long,
   * List, ProgressListener)}.
   *
   * @param request the Prepare request
   * @param listener receives each progress message, or null
   * @return the future prepared snapshot
   */
  public CompletableFuture<SnapshotInfo> prepare(PrepareRequest request, ProgressListener listener) {
    final PrepareCall call =
        new PrepareCall(listener, timers.scheduler, options.idleTimeout().toNanos());
    running.add(call);
    call.future.whenComplete((s, t) -> running.remove(call));
    async.prepare(request, call);
    return call.future;
  }

  /**
   * Swaps the prepared snapshot into {@code dest}, once the node has closed its DB, and returns
   * its term and index. With {@code keepOld} the replaced DB is kept aside until {@link
   * #finalizeInstall} deletes it or {@link #rollback} puts it back (meanwhile another Commit is
   * refused with {@link Reason#ROLLBACK_PENDING}).
   *
   * @param dest the Prepare's {@code dest}
   * @param snapshotId the prepared snapshot's {@code snapshot_id}
   * @param replace the Prepare's replace list, or empty for the prepared one
   * @param keepOld keep the replaced DB so that Rollback can put it back
   * @return the installed snapshot and whether a rollback is available
   * @throws SnapsyncException if the sidecar refused or failed; {@code dest} then holds the old DB
   */
  public CommitResponse commit(
      String dest, ByteString snapshotId, List<String> replace, boolean keepOld)
      throws SnapsyncException {
    CommitRequest.Builder req =
        CommitRequest.newBuilder().setDest(dest).setSnapshotId(snapshotId).setKeepOld(keepOld);
    if (replace != null) {
      req.addAllReplace(replace);
    }
    try {
      return stub().commit(req.build());
    } catch (StatusRuntimeException e) {
      throw SnapsyncException.from(e);
    }
  }

  /**
   * Puts back what a Commit with {@code keepOld} replaced (the node has closed its DB again) and
   * deletes what that Commit installed, as one journaled swap.
   *
   * @param dest the Commit's {@code dest}
   * @return the snapshot that was installed and is now removed
   * @throws SnapsyncException with {@link Reason#NO_ROLLBACK} if nothing is kept, or another
   *     failure
   */
  public SnapshotInfo rollback(String dest) throws SnapsyncException {
    try {
      return stub().rollback(RollbackRequest.newBuilder().setDest(dest).build()).getRolledBack();
    } catch (StatusRuntimeException e) {
      throw SnapsyncException.from(e);
    }
  }

  /**
   * Deletes what a Commit with {@code keepOld} kept: the installed DB is then the only one. This
   * is the {@code Finalize} call; the method is not called {@code finalize} because that name is
   * {@link Object}'s finalizer. Idempotent.
   *
   * @param dest the Commit's {@code dest}
   * @return whether anything was kept (and is now deleted)
   * @throws SnapsyncException if the sidecar failed
   */
  public boolean finalizeInstall(String dest) throws SnapsyncException {
    try {
      return stub().finalize(FinalizeRequest.newBuilder().setDest(dest).build()).getFinalized();
    } catch (StatusRuntimeException e) {
      throw SnapsyncException.from(e);
    }
  }

  /**
   * Stops a Prepare for {@code dest} and drops what is staged, or keeps it so a later Prepare
   * resumes. At start-up, before opening its DB, the node calls {@code abort(dest, true)}: it
   * finishes or rolls back a swap that a crash interrupted.
   *
   * @param dest the destination
   * @param keepStaging keep what is staged
   * @throws SnapsyncException if the sidecar failed
   */
  public void abort(String dest, boolean keepStaging) throws SnapsyncException {
    try {
      stub().abort(AbortRequest.newBuilder().setDest(dest).setKeepStaging(keepStaging).build());
    } catch (StatusRuntimeException e) {
      throw SnapsyncException.from(e);
    }
  }

  /**
   * Reports what is under way, staged or kept for {@code dest}: state, progress, the prepared
   * snapshot, the last error and its reason, and whether a rollback is available.
   *
   * @param dest the destination
   * @return the sidecar's status of {@code dest}
   * @throws SnapsyncException if the sidecar failed
   */
  public StatusResponse status(String dest) throws SnapsyncException {
    try {
      return stub().status(StatusRequest.newBuilder().setDest(dest).build());
    } catch (StatusRuntimeException e) {
      throw SnapsyncException.from(e);
    }
  }

  /**
   * Stops the installer's own timer thread and, for an installer made by {@link #loopback}, its
   * channel. A Prepare still running then fails. A channel the caller passed in is left open.
   */
  @Override
  public void close() {
    for (PrepareCall call : running) {
      call.fail(
          new SnapsyncException(
              Status.Code.CANCELLED, "the installer was closed", "", null, null));
    }
    timers.close();
    Channels.shutdown(owned);
  }

  @Override
  public String toString() {
    return "SnapsyncInstaller{" + options + "}";
  }

  private InstallServiceGrpc.InstallServiceBlockingStub stub() {
    return blocking.withDeadlineAfter(options.callTimeout().toNanos(), TimeUnit.NANOSECONDS);
  }
}
