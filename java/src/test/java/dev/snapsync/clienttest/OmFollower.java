package dev.snapsync.clienttest;

import dev.snapsync.client.Reason;
import dev.snapsync.client.SnapsyncException;
import dev.snapsync.client.SnapsyncInstaller;
import dev.snapsync.client.SnapsyncOptions;
import dev.snapsync.v1.CommitResponse;
import dev.snapsync.v1.Progress;
import dev.snapsync.v1.SnapshotInfo;
import dev.snapsync.v1.StatusResponse;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.time.Duration;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;
import java.util.concurrent.ExecutionException;
import java.util.stream.Stream;

/**
 * OmFollower plays a follower Ozone Manager told by Ratis to install a snapshot, through its
 * sidecar's local API with the client library, in the order of docs/INTEGRATION.md: Prepare of
 * om.db and db.snapshots while the OM runs; the OM's marker (OzoneConsts.DB_TRANSIENT_MARKER,
 * the file dbInconsistentMarker) written around the swap only, Commit keeping the old DB, the
 * marker removed before the reload (an OM that opens its DB with the marker present exits); a
 * check of the installed TransactionInfo read with ldb, then Finalize, or the rollback path
 * (marker, Rollback, marker removed) when the check fails. Its start-up recovery: with a
 * marker, Abort keeping the staging; then, marker or not, Status, and Rollback when a commit
 * was never finalized.
 *
 * <p>Usage: OmFollower --target HOST:PORT --token-file F --dest METADIR --source URL
 * --min-index N [--expect-index I] [--pause-after-commit true] [--unreachable-source URL
 * --unreachable-min-index N]
 */
public final class OmFollower {
  private static final List<String> REPLACE = Arrays.asList("om.db", "db.snapshots");
  private static final String MARKER = "dbInconsistentMarker";

  private OmFollower() {}

  public static void main(String[] argv) throws Exception {
    Args args = new Args(argv);
    String token = new String(Files.readAllBytes(Paths.get(args.get("token-file"))), StandardCharsets.UTF_8);
    String dest = args.get("dest");
    Path marker = Paths.get(dest, MARKER);
    SnapsyncOptions options =
        SnapsyncOptions.defaults().withIdleTimeout(Duration.ofSeconds(20)).withCallTimeout(Duration.ofSeconds(30));
    try (SnapsyncInstaller installer = SnapsyncInstaller.loopback(args.get("target"), token, options)) {
      // Start-up recovery, before the OM opens its DB.
      if (recover(installer, dest, marker)) {
        return;
      }
      install(installer, args, dest, marker);
      String unreachable = args.get("unreachable-source", "");
      if (!unreachable.isEmpty()) {
        try {
          installer.prepare(dest, Arrays.asList(unreachable), args.getLong("unreachable-min-index"), REPLACE, null).get();
          say("error none");
        } catch (ExecutionException e) {
          SnapsyncException se = (SnapsyncException) e.getCause();
          say("error code=%s reason=%s metadata=%s", se.code(), se.reason(), se.metadata());
        }
      }
    }
  }

  /**
   * recover is the OM's start-up recovery: a marker means a swap was under way, so Abort keeping
   * the staging finishes or undoes it; then, marker or not, a commit never finalized is rolled
   * back. It reports whether it found anything to recover.
   */
  private static boolean recover(SnapsyncInstaller installer, String dest, Path marker) throws IOException {
    boolean found = Files.exists(marker);
    if (found) {
      installer.abort(dest, true);
    }
    StatusResponse st = installer.status(dest);
    if (!found && !st.getRollbackAvailable()) {
      return false;
    }
    say("recovery: marker=%s state=%s rollback_available=%s committed_index=%d", found,
        st.getProgress().getState(), st.getRollbackAvailable(), st.getCommitted().getIndex());
    if (st.getRollbackAvailable()) {
      SnapshotInfo gone = installer.rollback(dest);
      say("rolled back index=%d", gone.getIndex());
    }
    Files.deleteIfExists(marker);
    say("recovered");
    return true;
  }

  private static void install(SnapsyncInstaller installer, Args args, String dest, Path marker) throws Exception {
    long minIndex = args.getLong("min-index");
    SnapshotInfo prepared = prepare(installer, dest, args.get("source"), minIndex);
    say("prepared snapshot=%s term=%d index=%d", hex(prepared.getSnapshotId().toByteArray()), prepared.getTerm(),
        prepared.getIndex());
    if (prepared.getIndex() < minIndex) {
      throw new IllegalStateException("prepared index " + prepared.getIndex() + " is below " + minIndex);
    }
    // The OM stops its services and closes its DB here, then marks the swap.
    Files.write(marker, new byte[0]);
    CommitResponse c = installer.commit(dest, prepared.getSnapshotId(), REPLACE, true);
    say("committed term=%d index=%d rollback_available=%s", c.getSnapshot().getTerm(), c.getSnapshot().getIndex(),
        c.getRollbackAvailable());
    if (Boolean.parseBoolean(args.get("pause-after-commit", "false"))) {
      say("paused");
      System.in.read(); // the test kills the process here, the marker still present
    }
    Files.delete(marker); // before the reload: an OM that opens its DB with the marker exits
    // The OM reloads and reads its TransactionInfo.
    String installed = transactionInfo(Paths.get(dest, "om.db"));
    say("installed transaction_info=%s", installed);
    long expectIndex = Long.parseLong(args.get("expect-index", Long.toString(prepared.getIndex())));
    if (!installed.equals(prepared.getTerm() + "#" + expectIndex)) {
      say("check failed: want %d#%d", prepared.getTerm(), expectIndex);
      // The rollback path: the OM closes what it reloaded, marks the swap, rolls back.
      Files.write(marker, new byte[0]);
      SnapshotInfo gone = installer.rollback(dest);
      Files.delete(marker);
      say("rolled back index=%d", gone.getIndex());
    } else {
      say("finalized=%s", installer.finalizeInstall(dest));
    }
    StatusResponse st = installer.status(dest);
    say("done rollback_available=%s", st.getRollbackAvailable());
  }

  /**
   * prepare runs a Prepare, printing its progress; it tries again while the leader's sidecar has
   * no node watching for checkpoint requests yet (the leader program is starting).
   */
  private static SnapshotInfo prepare(SnapsyncInstaller installer, String dest, String source, long minIndex)
      throws Exception {
    long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
    while (true) {
      try {
        return installer.prepare(dest, Arrays.asList(source), minIndex, REPLACE, OmFollower::progress).get();
      } catch (ExecutionException e) {
        SnapsyncException se = (SnapsyncException) e.getCause();
        if (se.reason() != Reason.NO_CHECKPOINT_MAKER || System.nanoTime() > deadline) {
          throw se;
        }
        say("retry: %s", se.getMessage());
        Thread.sleep(100);
      }
    }
  }

  private static void progress(Progress p) {
    say("progress state=%s phase=%s done=%d total=%d fetched=%d reused=%d", p.getState(), p.getPhase(),
        p.getBytesDone(), p.getBytesTotal(), p.getBytesFetched(), p.getBytesReused());
  }

  /**
   * transactionInfo reads om.db's TransactionInfo with ldb, as a secondary instance so that the
   * DB's files stay as installed.
   */
  private static String transactionInfo(Path db) throws IOException, InterruptedException {
    Path secondary = Files.createTempDirectory("ldb-secondary");
    try {
      Process p =
          new ProcessBuilder("ldb", "--db=" + db, "--secondary_path=" + secondary,
                  "--column_family=transactionInfoTable", "get", "#TRANSACTIONINFO")
              .redirectErrorStream(true)
              .start();
      String out = readAll(p.getInputStream()).trim();
      if (p.waitFor() != 0) {
        throw new IOException("ldb get: " + out);
      }
      return out;
    } finally {
      try (Stream<Path> s = Files.walk(secondary)) {
        s.sorted(Comparator.reverseOrder()).forEach(f -> f.toFile().delete());
      }
    }
  }

  private static String readAll(InputStream in) throws IOException {
    ByteArrayOutputStream b = new ByteArrayOutputStream();
    byte[] buf = new byte[4096];
    for (int n; (n = in.read(buf)) > 0; ) {
      b.write(buf, 0, n);
    }
    return new String(b.toByteArray(), StandardCharsets.UTF_8);
  }

  private static String hex(byte[] b) {
    StringBuilder s = new StringBuilder();
    for (byte x : b) {
      s.append(String.format("%02x", x));
    }
    return s.toString();
  }

  static synchronized void say(String format, Object... args) {
    System.out.println("follower: " + String.format(format, args));
    System.out.flush();
  }
}
