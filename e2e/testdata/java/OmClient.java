import com.google.protobuf.Any;
import com.google.rpc.ErrorInfo;
import dev.snapsync.v1.CommitRequest;
import dev.snapsync.v1.CommitResponse;
import dev.snapsync.v1.InstallServiceGrpc;
import dev.snapsync.v1.PrepareRequest;
import dev.snapsync.v1.PrepareResponse;
import dev.snapsync.v1.Progress;
import dev.snapsync.v1.SnapshotInfo;
import io.grpc.CallOptions;
import io.grpc.Channel;
import io.grpc.ClientCall;
import io.grpc.ClientInterceptor;
import io.grpc.ForwardingClientCall;
import io.grpc.ManagedChannel;
import io.grpc.Metadata;
import io.grpc.MethodDescriptor;
import io.grpc.StatusRuntimeException;
import io.grpc.netty.NettyChannelBuilder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HexFormat;
import java.util.Iterator;
import java.util.concurrent.TimeUnit;

/**
 * OmClient drives a follower sidecar's local API as an Ozone Manager does when Ratis calls
 * notifyInstallSnapshotFromLeader: Prepare (printing each progress message), Commit, then one
 * Prepare that no checkpoint reaches, whose error it reads through google.rpc.ErrorInfo.
 *
 * <p>Usage: OmClient HOST:PORT TOKEN_FILE DEST SOURCE_URL MIN_INDEX UNREACHABLE_MIN_INDEX
 */
public final class OmClient {
  private static final Metadata.Key<String> AUTHORIZATION =
      Metadata.Key.of("authorization", Metadata.ASCII_STRING_MARSHALLER);

  /** BearerToken sends "authorization: Bearer TOKEN" on every call: the local API on TCP wants it. */
  private static final class BearerToken implements ClientInterceptor {
    private final String token;

    BearerToken(String token) {
      this.token = token;
    }

    @Override
    public <Q, R> ClientCall<Q, R> interceptCall(
        MethodDescriptor<Q, R> method, CallOptions options, Channel next) {
      return new ForwardingClientCall.SimpleForwardingClientCall<Q, R>(next.newCall(method, options)) {
        @Override
        public void start(Listener<R> listener, Metadata headers) {
          headers.put(AUTHORIZATION, "Bearer " + token);
          super.start(listener, headers);
        }
      };
    }
  }

  public static void main(String[] args) throws Exception {
    String target = args[0];
    String token = Files.readString(Path.of(args[1])).trim();
    String dest = args[2];
    String source = args[3];
    long minIndex = Long.parseLong(args[4]);
    long unreachable = Long.parseLong(args[5]);
    ManagedChannel channel =
        NettyChannelBuilder.forTarget(target)
            .usePlaintext()
            .intercept(new BearerToken(token))
            .build();
    try {
      InstallServiceGrpc.InstallServiceBlockingStub stub = InstallServiceGrpc.newBlockingStub(channel);
      SnapshotInfo prepared = prepare(stub, source, minIndex, dest);
      if (prepared == null || prepared.getIndex() < minIndex) {
        throw new IllegalStateException("Prepare ended without a snapshot reaching " + minIndex);
      }
      System.out.printf(
          "prepared snapshot=%s term=%d index=%d%n",
          HexFormat.of().formatHex(prepared.getSnapshotId().toByteArray()),
          prepared.getTerm(),
          prepared.getIndex());
      CommitResponse committed =
          stub.withDeadlineAfter(60, TimeUnit.SECONDS)
              .commit(
                  CommitRequest.newBuilder()
                      .setDest(dest)
                      .setSnapshotId(prepared.getSnapshotId())
                      .build());
      System.out.printf(
          "committed term=%d index=%d%n",
          committed.getSnapshot().getTerm(), committed.getSnapshot().getIndex());
      try {
        prepare(stub, source, unreachable, dest);
        System.out.println("error none");
      } catch (StatusRuntimeException e) {
        System.out.printf("error code=%s reason=%s%n", e.getStatus().getCode(), reason(e));
      }
    } finally {
      channel.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
    }
  }

  /** prepare runs one Prepare to its end, printing each progress message. */
  private static SnapshotInfo prepare(
      InstallServiceGrpc.InstallServiceBlockingStub stub, String source, long minIndex, String dest) {
    PrepareRequest req =
        PrepareRequest.newBuilder().addSourceUrls(source).setMinIndex(minIndex).setDest(dest).build();
    SnapshotInfo prepared = null;
    Iterator<PrepareResponse> it = stub.withDeadlineAfter(120, TimeUnit.SECONDS).prepare(req);
    while (it.hasNext()) {
      PrepareResponse msg = it.next();
      Progress p = msg.getProgress();
      System.out.printf(
          "progress state=%s done=%d total=%d fetched=%d reused=%d%n",
          p.getState(), p.getBytesDone(), p.getBytesTotal(), p.getBytesFetched(), p.getBytesReused());
      if (msg.hasPrepared()) {
        prepared = msg.getPrepared();
      }
    }
    return prepared;
  }

  /** reason returns the google.rpc.ErrorInfo reason of the error's status details, or "none". */
  private static String reason(StatusRuntimeException e) throws Exception {
    com.google.rpc.Status status = io.grpc.protobuf.StatusProto.fromThrowable(e);
    if (status == null) {
      return "none";
    }
    for (Any detail : status.getDetailsList()) {
      if (detail.is(ErrorInfo.class)) {
        ErrorInfo info = detail.unpack(ErrorInfo.class);
        return info.getReason() + " domain=" + info.getDomain();
      }
    }
    return "none";
  }
}
