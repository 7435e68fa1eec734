package dev.snapsync.client;

import java.time.Duration;
import java.util.concurrent.ScheduledExecutorService;

/**
 * Settings of a {@link SnapsyncInstaller} or a {@link SnapsyncCheckpoints}. Immutable: each
 * {@code with} method returns a copy with one setting changed.
 *
 * <pre>{@code
 * SnapsyncOptions options = SnapsyncOptions.defaults().withIdleTimeout(Duration.ofSeconds(30));
 * }</pre>
 */
public final class SnapsyncOptions {
  private static final SnapsyncOptions DEFAULTS =
      new SnapsyncOptions(
          Duration.ofSeconds(60),
          Duration.ofSeconds(60),
          Duration.ofMillis(200),
          Duration.ofSeconds(10),
          null);

  private final Duration idleTimeout;
  private final Duration callTimeout;
  private final Duration initialBackoff;
  private final Duration maxBackoff;
  private final ScheduledExecutorService scheduler;

  private SnapsyncOptions(
      Duration idleTimeout,
      Duration callTimeout,
      Duration initialBackoff,
      Duration maxBackoff,
      ScheduledExecutorService scheduler) {
    this.idleTimeout = idleTimeout;
    this.callTimeout = callTimeout;
    this.initialBackoff = initialBackoff;
    this.maxBackoff = maxBackoff;
    this.scheduler = scheduler;
  }

  /**
   * Returns the defaults: idle timeout 60 s, call timeout 60 s, watch backoff from 200 ms to 10 s,
   * and a scheduler of the client's own.
   *
   * @return the default options
   */
  public static SnapsyncOptions defaults() {
    return DEFAULTS;
  }

  /**
   * Returns a copy whose Prepare calls fail when the sidecar sends no message for this long.
   * The sidecar sends one at least every 2 s in every phase, so a silent stream means a stuck
   * sidecar or connection. There is no overall deadline: a long install that makes progress is
   * never cut. Default 60 s.
   *
   * @param idleTimeout a positive duration
   * @return the new options
   */
  public SnapsyncOptions withIdleTimeout(Duration idleTimeout) {
    return new SnapsyncOptions(positive(idleTimeout, "idleTimeout"), callTimeout, initialBackoff,
        maxBackoff, scheduler);
  }

  /**
   * Returns a copy whose unary calls (Commit, Rollback, Finalize, Abort, Status,
   * RegisterCheckpoint) get this deadline. Default 60 s.
   *
   * @param callTimeout a positive duration
   * @return the new options
   */
  public SnapsyncOptions withCallTimeout(Duration callTimeout) {
    return new SnapsyncOptions(idleTimeout, positive(callTimeout, "callTimeout"), initialBackoff,
        maxBackoff, scheduler);
  }

  /**
   * Returns a copy whose {@link SnapsyncCheckpoints#watch} waits from {@code initial} to {@code
   * max}, doubling each time, before it opens a stream that ended or failed again. The wait goes
   * back to {@code initial} once a stream delivers a request or stays open for {@code max}.
   * Default 200 ms to 10 s.
   *
   * @param initial the first wait, positive
   * @param max the longest wait, at least {@code initial}
   * @return the new options
   */
  public SnapsyncOptions withBackoff(Duration initial, Duration max) {
    positive(initial, "initial backoff");
    if (positive(max, "max backoff").compareTo(initial) < 0) {
      throw new IllegalArgumentException("max backoff " + max + " is below the initial " + initial);
    }
    return new SnapsyncOptions(idleTimeout, callTimeout, initial, max, scheduler);
  }

  /**
   * Returns a copy that runs its timers (the idle watchdog, the watch's reconnections) on this
   * scheduler, which the caller owns and shuts down. Default: a daemon thread of the client's own,
   * stopped by its {@code close()}.
   *
   * @param scheduler the scheduler, or null for one of the client's own
   * @return the new options
   */
  public SnapsyncOptions withScheduler(ScheduledExecutorService scheduler) {
    return new SnapsyncOptions(idleTimeout, callTimeout, initialBackoff, maxBackoff, scheduler);
  }

  /**
   * Returns how long a Prepare may go without a message from the sidecar.
   *
   * @return the idle timeout
   */
  public Duration idleTimeout() {
    return idleTimeout;
  }

  /**
   * Returns the deadline of each unary call.
   *
   * @return the call timeout
   */
  public Duration callTimeout() {
    return callTimeout;
  }

  /**
   * Returns the watch's first wait before it reconnects.
   *
   * @return the initial backoff
   */
  public Duration initialBackoff() {
    return initialBackoff;
  }

  /**
   * Returns the watch's longest wait before it reconnects.
   *
   * @return the maximum backoff
   */
  public Duration maxBackoff() {
    return maxBackoff;
  }

  /**
   * Returns the caller's scheduler, or null when the client makes its own.
   *
   * @return the scheduler or null
   */
  public ScheduledExecutorService scheduler() {
    return scheduler;
  }

  @Override
  public String toString() {
    return "SnapsyncOptions{idleTimeout=" + idleTimeout + ", callTimeout=" + callTimeout
        + ", backoff=" + initialBackoff + ".." + maxBackoff + "}";
  }

  private static Duration positive(Duration d, String what) {
    if (d == null || d.isNegative() || d.isZero()) {
      throw new IllegalArgumentException(what + " must be positive, got " + d);
    }
    return d;
  }
}
