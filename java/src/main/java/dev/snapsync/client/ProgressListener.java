package dev.snapsync.client;

import dev.snapsync.v1.Progress;

/**
 * Receives the progress messages of a Prepare, one at a time, on a gRPC thread: keep it quick and
 * do not block in it. An exception it throws is logged and ignored.
 */
public interface ProgressListener {
  /**
   * Called for each progress message of the Prepare stream, at least every 2 s.
   *
   * @param progress the state, phase and byte counts of the install
   */
  void onProgress(Progress progress);
}
