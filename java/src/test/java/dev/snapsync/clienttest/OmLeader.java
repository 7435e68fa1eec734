package dev.snapsync.clienttest;

import dev.snapsync.client.Checkpoint;
import dev.snapsync.client.CheckpointHandler;
import dev.snapsync.client.SnapsyncCheckpoints;
import dev.snapsync.client.SnapsyncException;
import dev.snapsync.client.SnapsyncOptions;
import dev.snapsync.v1.CheckpointRequest;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileVisitResult;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.nio.file.SimpleFileVisitor;
import java.nio.file.attribute.BasicFileAttributes;
import java.time.Duration;
import java.util.Collections;

/**
 * OmLeader plays the leader Ozone Manager: it watches its sidecar's checkpoint requests and
 * answers each by hard-linking its metadata directory's om.db and db.snapshots into a fresh
 * directory under the registry root, registered at the term and index the OM has applied (the
 * Go test wrote them into om.db's transactionInfoTable). It runs until its stdin ends.
 *
 * <p>Usage: OmLeader --target HOST:PORT --token-file F --meta DIR --root DIR --term T --index I
 */
public final class OmLeader {
  private OmLeader() {}

  public static void main(String[] argv) throws Exception {
    Args args = new Args(argv);
    String token = new String(Files.readAllBytes(Paths.get(args.get("token-file"))), StandardCharsets.UTF_8);
    Path meta = Paths.get(args.get("meta"));
    Path root = Paths.get(args.get("root"));
    long term = args.getLong("term");
    long index = args.getLong("index");
    SnapsyncOptions options =
        SnapsyncOptions.defaults().withBackoff(Duration.ofMillis(50), Duration.ofSeconds(1));
    try (SnapsyncCheckpoints checkpoints = SnapsyncCheckpoints.loopback(args.get("target"), token, options)) {
      checkpoints.watch(
          new CheckpointHandler() {
            @Override
            public Checkpoint checkpoint(CheckpointRequest req) throws IOException {
              say("request id=%s min_index=%d", req.getRequestId(), req.getMinIndex());
              if (req.getMinIndex() > index) {
                say("cannot reach min_index=%d: applied index=%d", req.getMinIndex(), index);
                return null;
              }
              Path dir = root.resolve("om.db-checkpoint-" + req.getRequestId());
              Files.createDirectory(dir);
              linkTree(meta.resolve("om.db"), dir.resolve("om.db"));
              linkTree(meta.resolve("db.snapshots"), dir.resolve("db.snapshots"));
              return new Checkpoint(dir.toString(), term, index, Collections.singletonMap("om", "om1"));
            }

            @Override
            public void registered(CheckpointRequest req, Checkpoint c) {
              say("registered request=%s dir=%s term=%d index=%d", req.getRequestId(), c.dir(), c.term(), c.index());
            }

            @Override
            public void failed(CheckpointRequest req, Checkpoint c, Exception e) {
              say("failed request=%s: %s", req.getRequestId(), e);
            }

            @Override
            public void disconnected(SnapsyncException cause, long retryMillis) {
              say("disconnected (%s), again in %d ms", cause == null ? "ended" : cause.getMessage(), retryMillis);
            }
          });
      say("watching");
      while (System.in.read() >= 0) {
        // until the test closes stdin
      }
    }
    say("closed");
  }

  /** linkTree recreates src's directories under dst and hard-links its files. */
  static void linkTree(Path src, Path dst) throws IOException {
    Files.walkFileTree(
        src,
        new SimpleFileVisitor<Path>() {
          @Override
          public FileVisitResult preVisitDirectory(Path d, BasicFileAttributes attrs) throws IOException {
            Files.createDirectories(dst.resolve(src.relativize(d)));
            return FileVisitResult.CONTINUE;
          }

          @Override
          public FileVisitResult visitFile(Path f, BasicFileAttributes attrs) throws IOException {
            Files.createLink(dst.resolve(src.relativize(f)), f);
            return FileVisitResult.CONTINUE;
          }
        });
  }

  static synchronized void say(String format, Object... args) {
    System.out.println("leader: " + String.format(format, args));
    System.out.flush();
  }
}
