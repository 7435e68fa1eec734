package dev.snapsync.client;

import dev.snapsync.v1.PrepareRequest;
import dev.snapsync.v1.PrepareResponse;
import dev.snapsync.v1.SnapshotInfo;
import io.grpc.Status;
import io.grpc.stub.ClientCallStreamObserver;
import io.grpc.stub.ClientResponseObserver;
import java.util.Collections;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * PrepareCall follows one Prepare stream: it hands each progress message to the listener, keeps
 * the prepared snapshot, and completes the future when the stream ends. Its watchdog cancels the
 * call when no message arrives for the idle timeout.
 */
final class PrepareCall implements ClientResponseObserver<PrepareRequest, PrepareResponse> {
  private static final Logger LOG = Logger.getLogger(PrepareCall.class.getName());

  final CompletableFuture<SnapshotInfo> future = new CompletableFuture<SnapshotInfo>();
  private final ProgressListener listener;
  private final ScheduledExecutorService scheduler;
  private final long idleNanos;

  private volatile long lastMessageNanos;
  private volatile SnapshotInfo prepared;
  private volatile ClientCallStreamObserver<PrepareRequest> call;
  private ScheduledFuture<?> watchdog; // guarded by this

  PrepareCall(ProgressListener listener, ScheduledExecutorService scheduler, long idleNanos) {
    this.listener = listener;
    this.scheduler = scheduler;
    this.idleNanos = idleNanos;
    future.whenComplete(
        (s, t) -> {
          stopWatchdog();
          ClientCallStreamObserver<PrepareRequest> c = call;
          if (future.isCancelled() && c != null) {
            c.cancel("snapsync: the caller cancelled the Prepare", null);
          }
        });
  }

  @Override
  public void beforeStart(ClientCallStreamObserver<PrepareRequest> requestStream) {
    call = requestStream;
    lastMessageNanos = System.nanoTime();
    arm(idleNanos);
  }

  @Override
  public void onNext(PrepareResponse msg) {
    lastMessageNanos = System.nanoTime();
    if (msg.hasPrepared()) {
      prepared = msg.getPrepared();
    }
    if (msg.hasProgress() && listener != null) {
      try {
        listener.onProgress(msg.getProgress());
      } catch (RuntimeException e) {
        LOG.log(Level.WARNING, "snapsync: the progress listener failed", e);
      }
    }
  }

  @Override
  public void onError(Throwable t) {
    future.completeExceptionally(SnapsyncException.from(t));
  }

  @Override
  public void onCompleted() {
    SnapshotInfo s = prepared;
    if (s != null) {
      future.complete(s);
      return;
    }
    future.completeExceptionally(
        new SnapsyncException(
            Status.Code.INTERNAL,
            "the Prepare stream ended without a prepared snapshot",
            "",
            null,
            null));
  }

  /** Schedules the idle check after delayNanos, unless the call has ended. */
  private synchronized void arm(long delayNanos) {
    if (future.isDone()) {
      return;
    }
    try {
      watchdog = scheduler.schedule(this::check, delayNanos, TimeUnit.NANOSECONDS);
    } catch (RejectedExecutionException e) {
      // The scheduler was shut down: the installer is closing and fails this call.
    }
  }

  private synchronized void stopWatchdog() {
    if (watchdog != null) {
      watchdog.cancel(false);
    }
  }

  /** Fails the call if it has been silent for the idle timeout, else checks again later. */
  private void check() {
    long silent = System.nanoTime() - lastMessageNanos;
    if (silent < idleNanos) {
      arm(idleNanos - silent);
      return;
    }
    long ms = TimeUnit.NANOSECONDS.toMillis(idleNanos);
    SnapsyncException e =
        new SnapsyncException(
            Status.Code.DEADLINE_EXCEEDED,
            "no message from the sidecar for " + ms + " ms (the idle timeout); the Prepare is cancelled",
            Reason.STALLED.name(),
            Collections.singletonMap("idle_timeout_ms", Long.toString(ms)),
            null);
    fail(e);
  }

  /** Fails the future with e and cancels the call, unless the call has ended already. */
  void fail(SnapsyncException e) {
    if (future.completeExceptionally(e)) {
      ClientCallStreamObserver<PrepareRequest> c = call;
      if (c != null) {
        c.cancel("snapsync: " + e.description(), e);
      }
    }
  }
}
