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
 * sidecar's local API with the client library: the documented sequence with the OM's
 * DB_TRANSIENT_MARKER, Prepare of om.db and db.snapshots, Commit keeping the old DB, a check of
 * the installed TransactionInfo read with ldb, then Finalize, or Rollback when the check fails.
 * At start-up it finds a marker a killed run left and rolls that install back.
 *
 * <p>Usage: OmFollower --target HOST:PORT --token-file F --dest METADIR --source URL
 * --min-index N [--expect-index I] [--pause-after-commit true] [--unreachable-source URL
 * --unreachable-min-index N]
 */
public final class OmFollower {
  private static final List<String> REPLACE = Arrays.asList("om.db", "db.snapshots");
  private static final String MARKER = "DB_TRANSIENT_MARKER";

  private OmFollower() {}

  public static void main(String[] argv) throws Exception {
    Args args = new Args(argv);
    String token = new String(Files.readAllBytes(Paths.get(args.get("token-file"))), StandardCharsets.UTF_8);
    String dest = args.get("dest");
    Path marker = Paths.get(dest, MARKER);
    SnapsyncOptions options =
        SnapsyncOptions.defaults().withIdleTimeout(Duration.ofSeconds(20)).withCallTimeout(Duration.ofSeconds(30));
    try (SnapsyncInstaller installer = SnapsyncInstaller.loopback(args.get("target"), token, options)) {
      // Start-up, before the OM opens its DB: finish or undo a swap a crash interrupted.
      installer.abort(dest, true);
      if (Files.exists(marker)) {
        recover(installer, dest, marker);
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

  /** recover rolls back the install a killed run committed but never finalized. */
  private static void recover(SnapsyncInstaller installer, String dest, Path marker) throws IOException {
    StatusResponse st = installer.status(dest);
    say("marker found: state=%s rollback_available=%s committed_index=%d", st.getProgress().getState(),
        st.getRollbackAvailable(), st.getCommitted().getIndex());
    if (st.getRollbackAvailable()) {
      SnapshotInfo gone = installer.rollback(dest);
      say("rolled back index=%d", gone.getIndex());
    }
    Files.delete(marker);
    say("recovered");
  }

  private static void install(SnapsyncInstaller installer, Args args, String dest, Path marker) throws Exception {
    Files.write(marker, new byte[0]);
    long minIndex = args.getLong("min-index");
    SnapshotInfo prepared = prepare(installer, dest, args.get("source"), minIndex);
    say("prepared snapshot=%s term=%d index=%d", hex(prepared.getSnapshotId().toByteArray()), prepared.getTerm(),
        prepared.getIndex());
    if (prepared.getIndex() < minIndex) {
      throw new IllegalStateException("prepared index " + prepared.getIndex() + " is below " + minIndex);
    }
    // The OM stops its state machine and closes its DB here.
    CommitResponse c = installer.commit(dest, prepared.getSnapshotId(), REPLACE, true);
    say("committed term=%d index=%d rollback_available=%s", c.getSnapshot().getTerm(), c.getSnapshot().getIndex(),
        c.getRollbackAvailable());
    if (Boolean.parseBoolean(args.get("pause-after-commit", "false"))) {
      say("paused");
      System.in.read(); // the test kills the process here
    }
    // The OM reopens its DB and reads its TransactionInfo.
    String installed = transactionInfo(Paths.get(dest, "om.db"));
    say("installed transaction_info=%s", installed);
    long expectIndex = Long.parseLong(args.get("expect-index", Long.toString(prepared.getIndex())));
    if (!installed.equals(prepared.getTerm() + "#" + expectIndex)) {
      say("check failed: want %d#%d", prepared.getTerm(), expectIndex);
      SnapshotInfo gone = installer.rollback(dest);
      say("rolled back index=%d", gone.getIndex());
    } else {
      say("finalized=%s", installer.finalizeInstall(dest));
    }
    Files.delete(marker);
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
