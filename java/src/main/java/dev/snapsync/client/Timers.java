package dev.snapsync.client;

import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledThreadPoolExecutor;
import java.util.concurrent.ThreadFactory;

/** Timers gives a client the scheduler of its options, or one of its own that it shuts down. */
final class Timers {
  final ScheduledExecutorService scheduler;
  private final boolean owned;

  Timers(SnapsyncOptions options, String name) {
    if (options.scheduler() != null) {
      scheduler = options.scheduler();
      owned = false;
      return;
    }
    ScheduledThreadPoolExecutor s = new ScheduledThreadPoolExecutor(1, daemon(name));
    s.setRemoveOnCancelPolicy(true);
    scheduler = s;
    owned = true;
  }

  /** Returns a factory of daemon threads of this name. */
  static ThreadFactory daemon(String name) {
    return r -> {
      Thread t = new Thread(r, name);
      t.setDaemon(true);
      return t;
    };
  }

  /** Stops the scheduler if it is the client's own. */
  void close() {
    if (owned) {
      scheduler.shutdownNow();
    }
  }
}
