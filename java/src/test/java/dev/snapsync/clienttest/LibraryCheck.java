package dev.snapsync.clienttest;

import com.google.protobuf.ByteString;
import com.google.protobuf.CodedOutputStream;
import dev.snapsync.client.BearerToken;
import dev.snapsync.client.Checkpoint;
import dev.snapsync.client.CheckpointHandler;
import dev.snapsync.client.Reason;
import dev.snapsync.client.SnapsyncCheckpoints;
import dev.snapsync.client.SnapsyncException;
import dev.snapsync.client.SnapsyncInstaller;
import dev.snapsync.client.SnapsyncOptions;
import dev.snapsync.v1.AbortRequest;
import dev.snapsync.v1.AbortResponse;
import dev.snapsync.v1.CheckpointRequest;
import dev.snapsync.v1.CommitRequest;
import dev.snapsync.v1.CommitResponse;
import dev.snapsync.v1.FinalizeRequest;
import dev.snapsync.v1.FinalizeResponse;
import dev.snapsync.v1.InstallServiceGrpc;
import dev.snapsync.v1.Phase;
import dev.snapsync.v1.PrepareRequest;
import dev.snapsync.v1.PrepareResponse;
import dev.snapsync.v1.Progress;
import dev.snapsync.v1.RegisterCheckpointRequest;
import dev.snapsync.v1.RegisterCheckpointResponse;
import dev.snapsync.v1.RegistryServiceGrpc;
import dev.snapsync.v1.RollbackRequest;
import dev.snapsync.v1.RollbackResponse;
import dev.snapsync.v1.SnapshotInfo;
import dev.snapsync.v1.StatusRequest;
import dev.snapsync.v1.StatusResponse;
import dev.snapsync.v1.WatchCheckpointRequestsRequest;
import dev.snapsync.v1.WatchCheckpointRequestsResponse;
import io.grpc.Channel;
import io.grpc.ClientInterceptors;
import io.grpc.ManagedChannel;
import io.grpc.Metadata;
import io.grpc.Server;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerInterceptor;
import io.grpc.ServerInterceptors;
import io.grpc.Status;
import io.grpc.inprocess.InProcessChannelBuilder;
import io.grpc.inprocess.InProcessServerBuilder;
import io.grpc.stub.ServerCallStreamObserver;
import io.grpc.stub.StreamObserver;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Executors;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * LibraryCheck exercises the client library against in-process fakes of the sidecar's services:
 * the Prepare idle watchdog (and no overall deadline), progress delivery, the bearer token, the
 * reasons and metadata read from the status details, the unary calls, and the watch's
 * reconnections with backoff. It prints "ok NAME" per check and exits non-zero on a failure.
 */
public final class LibraryCheck {
  private static final String TOKEN = "check-token-0123456789";
  private static final Metadata.Key<String> AUTHORIZATION =
      Metadata.Key.of("authorization", Metadata.ASCII_STRING_MARSHALLER);
  private static final Metadata.Key<byte[]> DETAILS =
      Metadata.Key.of("grpc-status-details-bin", Metadata.BINARY_BYTE_MARSHALLER);
  private static final List<String> REPLACE = Arrays.asList("om.db", "db.snapshots");
  private static final ScheduledExecutorService SERVER_TIMER = Executors.newScheduledThreadPool(1);

  private LibraryCheck() {}

  public static void main(String[] argv) throws Exception {
    String name = InProcessServerBuilder.generateName();
    FakeInstall install = new FakeInstall();
    FakeRegistry registry = new FakeRegistry();
    Server server =
        InProcessServerBuilder.forName(name)
            .addService(ServerInterceptors.intercept(install, new RequireToken()))
            .addService(registry)
            .build()
            .start();
    ManagedChannel channel = InProcessChannelBuilder.forName(name).build();
    try {
      // Generous timeouts but where a check is about them: a loaded machine
      // can hold a message back for a second.
      SnapsyncOptions options =
          SnapsyncOptions.defaults()
              .withIdleTimeout(Duration.ofSeconds(30))
              .withCallTimeout(Duration.ofSeconds(30))
              .withBackoff(Duration.ofMillis(40), Duration.ofSeconds(2));
      Channel withToken = ClientInterceptors.intercept(channel, new BearerToken(TOKEN));
      SnapsyncInstaller installer = new SnapsyncInstaller(withToken, options);
      checkPrepare(installer, withToken, options);
      checkErrors(installer, new SnapsyncInstaller(channel, options));
      checkUnary(installer, withToken, options);
      checkToken();
      checkWatch(channel, options, registry);
      installer.close();
      System.out.println("PASS");
    } finally {
      channel.shutdownNow();
      server.shutdownNow();
      SERVER_TIMER.shutdownNow();
    }
  }

  private static void checkPrepare(
      SnapsyncInstaller installer, Channel installerChannel, SnapsyncOptions options) throws Exception {
    List<Progress> seen = Collections.synchronizedList(new ArrayList<Progress>());
    SnapshotInfo s = installer.prepare(prepare("ok"), seen::add).get(10, TimeUnit.SECONDS);
    check(s.getIndex() == 2000 && s.getTerm() == 3, "prepared " + s);
    check(seen.size() == 3 && seen.get(2).getPhase() == Phase.PHASE_STAGED, "progress " + seen);
    ok("prepare returns the prepared snapshot and hands each progress message to the listener");

    SnapsyncInstaller watchful =
        new SnapsyncInstaller(installerChannel, options.withIdleTimeout(Duration.ofSeconds(1)));
    long start = System.nanoTime();
    SnapsyncException e = failure(watchful.prepare(prepare("stall"), null));
    long ms = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start);
    check(e.code() == Status.Code.DEADLINE_EXCEEDED && e.reason() == Reason.STALLED, "idle failure " + e);
    check(e.metadata().get("idle_timeout_ms").equals("1000"), "metadata " + e.metadata());
    check(ms >= 1350 && ms < 10000, "the silent stream failed after " + ms + " ms, want 400 ms of progress + 1 s");
    check(await(FakeInstall.stallCancelled), "the server saw no cancellation");
    ok("a silent Prepare fails after the idle timeout (" + ms + " ms) and is cancelled");

    s = watchful.prepare(prepare("slow"), null).get(10, TimeUnit.SECONDS);
    check(s.getIndex() == 2000, "slow " + s);
    ok("a Prepare longer than the idle timeout that keeps sending progress succeeds");
    watchful.close();

    CompletableFuture<SnapshotInfo> f = installer.prepare(prepare("stall-silent"), null);
    Thread.sleep(100);
    f.cancel(true);
    check(await(FakeInstall.silentCancelled), "cancelling the future did not cancel the call");
    ok("cancelling the future cancels the call");

    SnapsyncInstaller closing = new SnapsyncInstaller(installerChannel, options);
    f = closing.prepare(prepare("stall-silent"), null);
    closing.close();
    e = failure(f);
    check(e.code() == Status.Code.CANCELLED, "closed: " + e);
    ok("close fails a running Prepare");
  }

  private static void checkErrors(SnapsyncInstaller installer, SnapsyncInstaller noToken) throws Exception {
    SnapsyncException e = failure(installer.prepare(prepare("min-index"), null));
    check(e.code() == Status.Code.FAILED_PRECONDITION, "code " + e);
    check(e.reason() == Reason.MIN_INDEX_NOT_REACHED && e.reasonName().equals("MIN_INDEX_NOT_REACHED"), "reason " + e);
    check(e.metadata().get("newest_index").equals("2000") && e.metadata().get("min_index").equals("5000"),
        "metadata " + e.metadata());
    check(e.getMessage().startsWith("FAILED_PRECONDITION MIN_INDEX_NOT_REACHED"), "message " + e.getMessage());
    ok("a Prepare error carries its code, reason and metadata: " + e.getMessage());

    e = failure(installer.prepare(prepare("new-reason"), null));
    check(e.reason() == Reason.UNKNOWN && e.reasonName().equals("SOMETHING_NEWER"), "unknown reason " + e);
    e = failure(installer.prepare(prepare("foreign-domain"), null));
    check(e.reason() == Reason.UNKNOWN && e.reasonName().isEmpty() && e.code() == Status.Code.INTERNAL,
        "foreign domain " + e);
    e = failure(installer.prepare(prepare("garbage-details"), null));
    check(e.reasonName().isEmpty() && e.code() == Status.Code.ABORTED, "garbage details " + e);
    ok("an unknown reason is UNKNOWN with its name kept; another domain's or broken details give none");

    try {
      noToken.status("/data/om");
      check(false, "a call without the token succeeded");
    } catch (SnapsyncException x) {
      check(x.code() == Status.Code.UNAUTHENTICATED && x.reason() == Reason.UNAUTHENTICATED, "no token " + x);
      check(!x.getMessage().contains(TOKEN), "the token leaked into " + x.getMessage());
    }
    ok("the bearer token is sent on every call");
    noToken.close();
  }

  private static void checkUnary(
      SnapsyncInstaller installer, Channel installerChannel, SnapsyncOptions options) throws Exception {
    CommitResponse c = installer.commit("/data/om", ByteString.copyFromUtf8("id"), REPLACE, true);
    check(c.getRollbackAvailable() && c.getSnapshot().getIndex() == 2000, "commit " + c);
    CommitRequest got = FakeInstall.lastCommit;
    check(got.getKeepOld() && got.getReplaceList().equals(REPLACE) && got.getSnapshotId().toStringUtf8().equals("id"),
        "commit request " + got);
    check(installer.rollback("/data/om").getIndex() == 2000, "rollback");
    check(installer.finalizeInstall("/data/om"), "finalize");
    check(installer.status("/data/om").getRollbackAvailable(), "status");
    try {
      installer.rollback("/data/none");
      check(false, "rollback of nothing succeeded");
    } catch (SnapsyncException e) {
      check(e.reason() == Reason.NO_ROLLBACK && e.code() == Status.Code.FAILED_PRECONDITION, "no rollback " + e);
    }
    installer.abort("/data/om", true);
    check(FakeInstall.lastAbortKeep, "abort keep_staging");
    ok("commit, rollback, finalizeInstall, abort and status send their fields and return the answers");

    SnapsyncInstaller quick =
        new SnapsyncInstaller(installerChannel, options.withCallTimeout(Duration.ofMillis(300)));
    long start = System.nanoTime();
    try {
      quick.status("/data/slow");
      check(false, "a status past its deadline succeeded");
    } catch (SnapsyncException e) {
      long ms = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start);
      check(e.code() == Status.Code.DEADLINE_EXCEEDED && ms >= 250 && ms < 5000, "deadline " + e + " after " + ms + " ms");
    }
    quick.close();
    ok("unary calls have a deadline");
  }

  private static void checkToken() {
    BearerToken t = new BearerToken(TOKEN + "\n");
    check(!t.toString().contains(TOKEN), "toString shows the token");
    try {
      SnapsyncInstaller.loopback("192.0.2.1:7601", TOKEN);
      check(false, "a non-loopback target was accepted");
    } catch (IllegalArgumentException e) {
      check(!e.getMessage().contains(TOKEN), "the token leaked");
    }
    try {
      new BearerToken("two words");
      check(false, "a token with a space was accepted");
    } catch (IllegalArgumentException e) {
      check(!e.getMessage().contains("two"), "the token leaked");
    }
    SnapsyncInstaller.loopback("127.0.0.1:1", TOKEN).close();
    SnapsyncInstaller.loopback("[::1]:1", TOKEN).close();
    ok("the token stays out of toString and errors; loopback targets only");
  }

  private static void checkWatch(ManagedChannel channel, SnapsyncOptions options, FakeRegistry registry)
      throws Exception {
    BlockingQueue<String> events = new LinkedBlockingQueue<>();
    SnapsyncCheckpoints checkpoints = new SnapsyncCheckpoints(channel, options);
    checkpoints.watch(
        new CheckpointHandler() {
          @Override
          public Checkpoint checkpoint(CheckpointRequest req) {
            events.add("checkpoint " + req.getRequestId() + " " + req.getMinIndex());
            if (req.getRequestId().equals("r-none")) {
              return null;
            }
            return new Checkpoint("/ckpts/" + req.getRequestId(), 3, req.getMinIndex() + 1);
          }

          @Override
          public void registered(CheckpointRequest req, Checkpoint c) {
            events.add("registered " + req.getRequestId());
          }

          @Override
          public void disconnected(SnapsyncException cause, long retryMillis) {
            events.add("disconnected " + (cause == null ? "ended" : cause.code()) + " " + retryMillis);
          }
        });
    List<String> want = new ArrayList<>();
    want.add("disconnected UNAVAILABLE 40");
    want.add("disconnected ended 80");
    want.add("disconnected UNAVAILABLE 160");
    want.add("disconnected UNAVAILABLE 320");
    want.add("checkpoint r-none 10");
    want.add("checkpoint r1 50");
    want.add("registered r1");
    for (String w : want) {
      String got = events.poll(5, TimeUnit.SECONDS);
      check(w.equals(got), "watch event " + got + ", want " + w);
    }
    RegisterCheckpointRequest reg = registry.registered.poll(5, TimeUnit.SECONDS);
    check(reg != null && reg.getRequestId().equals("r1") && reg.getDir().equals("/ckpts/r1") && reg.getIndex() == 51
        && reg.getTerm() == 3, "registration " + reg);
    ok("watch reconnects with bounded backoff and registers each checkpoint with its request's ID");

    checkpoints.close();
    check(await(registry.cancelled), "close did not end the watch stream");
    Thread.sleep(400);
    check(registry.watches.get() == 5, "the watch reconnected after close: " + registry.watches.get() + " streams");
    String after = events.poll();
    check(after == null, "event after close: " + after);
    ok("close ends the watch for good");
    try {
      checkpoints.watch(req -> null);
      check(false, "watch after close");
    } catch (IllegalStateException e) {
      // expected
    }
  }


  private static PrepareRequest prepare(String dest) {
    return PrepareRequest.newBuilder().setDest(dest).addSourceUrls("http://peer:7600").setMinIndex(1000).build();
  }

  private static SnapsyncException failure(CompletableFuture<SnapshotInfo> f) throws Exception {
    try {
      SnapshotInfo s = f.get(10, TimeUnit.SECONDS);
      throw new AssertionError("succeeded: " + s);
    } catch (ExecutionException e) {
      check(e.getCause() instanceof SnapsyncException, "failed with " + e.getCause());
      return (SnapsyncException) e.getCause();
    }
  }

  private static boolean await(CountDownLatch l) throws InterruptedException {
    return l.await(5, TimeUnit.SECONDS);
  }

  private static void check(boolean ok, String what) {
    if (!ok) {
      throw new AssertionError(what);
    }
  }

  private static void ok(String what) {
    System.out.println("ok " + what);
  }

  static SnapshotInfo snapshot() {
    return SnapshotInfo.newBuilder().setTerm(3).setIndex(2000).setSnapshotId(ByteString.copyFromUtf8("id")).build();
  }

  /** error returns a status error whose details carry an ErrorInfo (its raw bytes if given). */
  static Throwable error(Status status, String reason, String domain, Map<String, String> md, byte[] raw) {
    Metadata trailers = new Metadata();
    trailers.put(DETAILS, raw != null ? raw : statusDetails(status, reason, domain, md));
    return status.asRuntimeException(trailers);
  }

  /** statusDetails encodes google.rpc.Status{code, message, details: [Any(ErrorInfo)]} by hand. */
  static byte[] statusDetails(Status status, String reason, String domain, Map<String, String> md) {
    try {
      ByteArrayOutputStream info = new ByteArrayOutputStream();
      CodedOutputStream o = CodedOutputStream.newInstance(info);
      o.writeString(1, reason);
      o.writeString(2, domain);
      for (Map.Entry<String, String> e : md.entrySet()) {
        ByteArrayOutputStream entry = new ByteArrayOutputStream();
        CodedOutputStream eo = CodedOutputStream.newInstance(entry);
        eo.writeString(1, e.getKey());
        eo.writeString(2, e.getValue());
        eo.flush();
        o.writeByteArray(3, entry.toByteArray());
      }
      o.flush();
      ByteArrayOutputStream any = new ByteArrayOutputStream();
      CodedOutputStream ao = CodedOutputStream.newInstance(any);
      ao.writeString(1, "type.googleapis.com/google.rpc.ErrorInfo");
      ao.writeByteArray(2, info.toByteArray());
      ao.flush();
      ByteArrayOutputStream st = new ByteArrayOutputStream();
      CodedOutputStream so = CodedOutputStream.newInstance(st);
      so.writeInt32(1, status.getCode().value());
      so.writeString(2, String.valueOf(status.getDescription()));
      so.writeByteArray(3, any.toByteArray());
      so.flush();
      return st.toByteArray();
    } catch (IOException e) {
      throw new AssertionError(e);
    }
  }

  /** RequireToken refuses calls without the bearer token, as the sidecar does. */
  static final class RequireToken implements ServerInterceptor {
    @Override
    public <Q, R> ServerCall.Listener<Q> interceptCall(
        ServerCall<Q, R> call, Metadata headers, ServerCallHandler<Q, R> next) {
      if (!("Bearer " + TOKEN).equals(headers.get(AUTHORIZATION))) {
        Throwable t = error(Status.UNAUTHENTICATED.withDescription("missing or wrong token"), "UNAUTHENTICATED",
            Reason.DOMAIN, Collections.<String, String>emptyMap(), null);
        call.close(Status.fromThrowable(t), Status.trailersFromThrowable(t));
        return new ServerCall.Listener<Q>() {};
      }
      return next.startCall(call, headers);
    }
  }

  /** FakeInstall answers as the sidecar would, each Prepare's dest naming a behaviour. */
  static final class FakeInstall extends InstallServiceGrpc.InstallServiceImplBase {
    static final CountDownLatch stallCancelled = new CountDownLatch(1);
    static final CountDownLatch silentCancelled = new CountDownLatch(1);
    static volatile CommitRequest lastCommit;
    static volatile boolean lastAbortKeep;

    @Override
    public void prepare(PrepareRequest req, StreamObserver<PrepareResponse> out) {
      ServerCallStreamObserver<PrepareResponse> o = (ServerCallStreamObserver<PrepareResponse>) out;
      Map<String, String> md = new LinkedHashMap<>();
      switch (req.getDest()) {
        case "ok":
          for (Phase p : new Phase[] {Phase.PHASE_CONNECTING, Phase.PHASE_FETCHING, Phase.PHASE_STAGED}) {
            o.onNext(PrepareResponse.newBuilder().setProgress(Progress.newBuilder().setPhase(p)).build());
          }
          o.onNext(PrepareResponse.newBuilder().setPrepared(snapshot()).build());
          o.onCompleted();
          return;
        case "stall":
          o.setOnCancelHandler(stallCancelled::countDown);
          for (int i = 0; i < 5; i++) {
            SERVER_TIMER.schedule(() -> o.onNext(progress()), i * 100, TimeUnit.MILLISECONDS);
          }
          return; // then silence
        case "stall-silent":
          o.setOnCancelHandler(silentCancelled::countDown);
          return;
        case "slow":
          for (int i = 0; i < 25; i++) {
            SERVER_TIMER.schedule(() -> o.onNext(progress()), i * 100, TimeUnit.MILLISECONDS);
          }
          SERVER_TIMER.schedule(() -> {
            o.onNext(PrepareResponse.newBuilder().setPrepared(snapshot()).build());
            o.onCompleted();
          }, 2500, TimeUnit.MILLISECONDS);
          return;
        case "min-index":
          md.put("min_index", "5000");
          md.put("newest_index", "2000");
          o.onError(error(Status.FAILED_PRECONDITION.withDescription("no checkpoint reaches 5000"),
              "MIN_INDEX_NOT_REACHED", Reason.DOMAIN, md, null));
          return;
        case "new-reason":
          o.onError(error(Status.FAILED_PRECONDITION, "SOMETHING_NEWER", Reason.DOMAIN, md, null));
          return;
        case "foreign-domain":
          o.onError(error(Status.INTERNAL, "MIN_INDEX_NOT_REACHED", "example.com", md, null));
          return;
        default:
          o.onError(error(Status.ABORTED, "", "", md, new byte[] {0x1a, 0x7f, 0x01}));
      }
    }

    private static PrepareResponse progress() {
      return PrepareResponse.newBuilder().setProgress(Progress.newBuilder().setPhase(Phase.PHASE_FETCHING)).build();
    }

    @Override
    public void commit(CommitRequest req, StreamObserver<CommitResponse> out) {
      lastCommit = req;
      out.onNext(CommitResponse.newBuilder().setSnapshot(snapshot()).setRollbackAvailable(req.getKeepOld()).build());
      out.onCompleted();
    }

    @Override
    public void rollback(RollbackRequest req, StreamObserver<RollbackResponse> out) {
      if (req.getDest().equals("/data/none")) {
        out.onError(error(Status.FAILED_PRECONDITION.withDescription("nothing kept"), "NO_ROLLBACK", Reason.DOMAIN,
            Collections.<String, String>emptyMap(), null));
        return;
      }
      out.onNext(RollbackResponse.newBuilder().setRolledBack(snapshot()).build());
      out.onCompleted();
    }

    @Override
    public void finalize(FinalizeRequest req, StreamObserver<FinalizeResponse> out) {
      out.onNext(FinalizeResponse.newBuilder().setFinalized(true).build());
      out.onCompleted();
    }

    @Override
    public void abort(AbortRequest req, StreamObserver<AbortResponse> out) {
      lastAbortKeep = req.getKeepStaging();
      out.onNext(AbortResponse.getDefaultInstance());
      out.onCompleted();
    }

    @Override
    public void status(StatusRequest req, StreamObserver<StatusResponse> out) {
      if (req.getDest().equals("/data/slow")) {
        return; // never answers: the deadline ends it
      }
      out.onNext(StatusResponse.newBuilder().setRollbackAvailable(true).setCommitted(snapshot()).build());
      out.onCompleted();
    }
  }

  /**
   * FakeRegistry's watch streams fail, end, fail twice more, then deliver two requests and stay
   * open; it records registrations.
   */
  static final class FakeRegistry extends RegistryServiceGrpc.RegistryServiceImplBase {
    final AtomicInteger watches = new AtomicInteger();
    final CountDownLatch cancelled = new CountDownLatch(1);
    final BlockingQueue<RegisterCheckpointRequest> registered = new LinkedBlockingQueue<>();

    @Override
    public void watchCheckpointRequests(
        WatchCheckpointRequestsRequest req, StreamObserver<WatchCheckpointRequestsResponse> out) {
      int n = watches.incrementAndGet();
      switch (n) {
        case 2:
          out.onCompleted();
          return;
        case 5:
          ((ServerCallStreamObserver<WatchCheckpointRequestsResponse>) out).setOnCancelHandler(cancelled::countDown);
          out.onNext(request("r-none", 10));
          out.onNext(request("r1", 50));
          return;
        default:
          out.onError(Status.UNAVAILABLE.withDescription("sidecar restarting").asRuntimeException());
      }
    }

    private static WatchCheckpointRequestsResponse request(String id, long minIndex) {
      return WatchCheckpointRequestsResponse.newBuilder()
          .setRequest(CheckpointRequest.newBuilder().setRequestId(id).setMinIndex(minIndex))
          .build();
    }

    @Override
    public void registerCheckpoint(RegisterCheckpointRequest req, StreamObserver<RegisterCheckpointResponse> out) {
      registered.add(req);
      out.onNext(RegisterCheckpointResponse.newBuilder().setRegistered(1).build());
      out.onCompleted();
    }
  }
}
