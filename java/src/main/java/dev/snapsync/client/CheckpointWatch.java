package dev.snapsync.client;

import dev.snapsync.v1.CheckpointRequest;
import dev.snapsync.v1.RegistryServiceGrpc;
import dev.snapsync.v1.WatchCheckpointRequestsRequest;
import dev.snapsync.v1.WatchCheckpointRequestsResponse;
import io.grpc.stub.ClientCallStreamObserver;
import io.grpc.stub.ClientResponseObserver;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * CheckpointWatch keeps one WatchCheckpointRequests stream open, reconnecting with bounded
 * exponential backoff, and calls the handler on a thread of its own, one call at a time, so a
 * slow checkpoint never blocks the stream.
 */
final class CheckpointWatch {
  private static final Logger LOG = Logger.getLogger(CheckpointWatch.class.getName());

  private final SnapsyncCheckpoints checkpoints;
  private final RegistryServiceGrpc.RegistryServiceStub stub;
  private final CheckpointHandler handler;
  private final ScheduledExecutorService scheduler;
  private final ExecutorService worker =
      Executors.newSingleThreadExecutor(Timers.daemon("snapsync-checkpoint-handler"));
  private final long initialBackoffNanos;
  private final long maxBackoffNanos;

  private long backoffNanos; // guarded by this
  private boolean stopped; // guarded by this
  private ClientCallStreamObserver<WatchCheckpointRequestsRequest> call; // guarded by this

  CheckpointWatch(
      SnapsyncCheckpoints checkpoints,
      RegistryServiceGrpc.RegistryServiceStub stub,
      CheckpointHandler handler,
      ScheduledExecutorService scheduler,
      SnapsyncOptions options) {
    this.checkpoints = checkpoints;
    this.stub = stub;
    this.handler = handler;
    this.scheduler = scheduler;
    this.initialBackoffNanos = options.initialBackoff().toNanos();
    this.maxBackoffNanos = options.maxBackoff().toNanos();
    this.backoffNanos = initialBackoffNanos;
  }

  /** Opens the stream. */
  void start() {
    final long opened = System.nanoTime();
    stub.watchCheckpointRequests(
        WatchCheckpointRequestsRequest.getDefaultInstance(),
        new ClientResponseObserver<WatchCheckpointRequestsRequest, WatchCheckpointRequestsResponse>() {
          @Override
          public void beforeStart(ClientCallStreamObserver<WatchCheckpointRequestsRequest> c) {
            synchronized (CheckpointWatch.this) {
              call = c;
              if (stopped) {
                c.cancel("snapsync: the watch is closed", null);
              }
            }
          }

          @Override
          public void onNext(WatchCheckpointRequestsResponse msg) {
            synchronized (CheckpointWatch.this) {
              backoffNanos = initialBackoffNanos;
            }
            final CheckpointRequest req = msg.getRequest();
            try {
              worker.execute(() -> handle(req));
            } catch (RejectedExecutionException e) {
              // stopped meanwhile
            }
          }

          @Override
          public void onError(Throwable t) {
            ended(SnapsyncException.from(t), opened);
          }

          @Override
          public void onCompleted() {
            ended(null, opened);
          }
        });
  }

  /** Schedules the next stream after the backoff, unless the watch is stopped. */
  private void ended(SnapsyncException cause, long opened) {
    long delay;
    synchronized (this) {
      if (stopped) {
        return;
      }
      if (System.nanoTime() - opened >= maxBackoffNanos) {
        backoffNanos = initialBackoffNanos; // it was up for a while: start over
      }
      delay = backoffNanos;
      backoffNanos = Math.min(backoffNanos * 2, maxBackoffNanos);
    }
    long retryMillis = TimeUnit.NANOSECONDS.toMillis(delay);
    try {
      scheduler.schedule(this::start, delay, TimeUnit.NANOSECONDS);
      worker.execute(() -> disconnected(cause, retryMillis));
    } catch (RejectedExecutionException e) {
      // the client is closing
    }
  }

  private void disconnected(SnapsyncException cause, long retryMillis) {
    try {
      handler.disconnected(cause, retryMillis);
    } catch (RuntimeException e) {
      LOG.log(Level.WARNING, "snapsync: the checkpoint handler's disconnected() failed", e);
    }
  }

  /** Makes and registers a checkpoint for req. */
  private void handle(CheckpointRequest req) {
    if (isStopped()) {
      return;
    }
    Checkpoint c = null;
    try {
      c = handler.checkpoint(req);
      if (c == null) {
        return;
      }
      if (isStopped()) {
        return; // closed while it was made: the sidecar may be gone
      }
      checkpoints.register(c.dir(), c.term(), c.index(), req.getRequestId(), c.labels());
    } catch (Exception e) {
      if (e instanceof InterruptedException) {
        Thread.currentThread().interrupt();
      }
      try {
        handler.failed(req, c, e);
      } catch (RuntimeException e2) {
        LOG.log(Level.WARNING, "snapsync: the checkpoint handler's failed() failed", e2);
      }
      return;
    }
    try {
      handler.registered(req, c);
    } catch (RuntimeException e) {
      LOG.log(Level.WARNING, "snapsync: the checkpoint handler's registered() failed", e);
    }
  }

  private synchronized boolean isStopped() {
    return stopped;
  }

  /** Ends the stream and the handler thread; no stream is opened again. */
  void stop() {
    ClientCallStreamObserver<WatchCheckpointRequestsRequest> c;
    synchronized (this) {
      stopped = true;
      c = call;
    }
    if (c != null) {
      c.cancel("snapsync: the watch is closed", null);
    }
    worker.shutdown();
  }
}
