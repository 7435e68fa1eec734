package dev.snapsync.client;

import java.util.Collections;
import java.util.Map;
import java.util.TreeMap;

/**
 * A checkpoint the node made, as {@link CheckpointHandler#checkpoint} returns it: a fresh
 * directory under the sidecar's registry root and the Raft term and index of the last
 * transaction it reflects (an OM: the {@code TransactionInfo} read from the checkpoint itself).
 */
public final class Checkpoint {
  private final String dir;
  private final long term;
  private final long index;
  private final Map<String, String> labels;

  /**
   * Describes a checkpoint without labels.
   *
   * @param dir its absolute directory, as the sidecar sees it
   * @param term the Raft term it reflects
   * @param index the Raft index it reflects
   */
  public Checkpoint(String dir, long term, long index) {
    this(dir, term, index, Collections.<String, String>emptyMap());
  }

  /**
   * Describes a checkpoint with labels, which travel in its manifest.
   *
   * @param dir its absolute directory, as the sidecar sees it
   * @param term the Raft term it reflects
   * @param index the Raft index it reflects
   * @param labels e.g. {@code {om=om1}}
   */
  public Checkpoint(String dir, long term, long index, Map<String, String> labels) {
    if (dir == null || dir.isEmpty()) {
      throw new IllegalArgumentException("a checkpoint needs a directory");
    }
    this.dir = dir;
    this.term = term;
    this.index = index;
    this.labels = Collections.unmodifiableMap(new TreeMap<String, String>(labels));
  }

  /**
   * Returns the checkpoint's directory.
   *
   * @return the absolute directory
   */
  public String dir() {
    return dir;
  }

  /**
   * Returns the Raft term the checkpoint reflects.
   *
   * @return the term
   */
  public long term() {
    return term;
  }

  /**
   * Returns the Raft index the checkpoint reflects.
   *
   * @return the index
   */
  public long index() {
    return index;
  }

  /**
   * Returns the checkpoint's labels.
   *
   * @return an unmodifiable map, sorted by key
   */
  public Map<String, String> labels() {
    return labels;
  }

  @Override
  public String toString() {
    return "Checkpoint{dir=" + dir + ", term=" + term + ", index=" + index + ", labels=" + labels
        + "}";
  }
}
