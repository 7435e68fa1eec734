package dev.snapsync.client;

import io.grpc.ManagedChannel;
import io.grpc.ManagedChannelBuilder;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.util.concurrent.TimeUnit;

/** Channels makes the loopback channel of the convenience factories. */
final class Channels {
  private Channels() {}

  /**
   * Returns a plaintext channel to a loopback {@code host:port} sending the token on every call.
   * A host that is not a loopback address is refused: the token would travel in the clear.
   */
  static ManagedChannel loopback(String target, String token) {
    BearerToken bearer = new BearerToken(token);
    int colon = target == null ? -1 : target.lastIndexOf(':');
    if (colon <= 0) {
      throw new IllegalArgumentException("target " + target + " is not host:port");
    }
    String host = target.substring(0, colon);
    if (host.startsWith("[") && host.endsWith("]")) {
      host = host.substring(1, host.length() - 1);
    }
    int port;
    try {
      port = Integer.parseInt(target.substring(colon + 1));
    } catch (NumberFormatException e) {
      throw new IllegalArgumentException("target " + target + " has no port number", e);
    }
    try {
      if (!InetAddress.getByName(host).isLoopbackAddress()) {
        throw new IllegalArgumentException(
            "target " + target + " is not a loopback address: the token would travel in the clear");
      }
    } catch (UnknownHostException e) {
      throw new IllegalArgumentException("target " + target + ": " + e.getMessage(), e);
    }
    return ManagedChannelBuilder.forAddress(host, port).usePlaintext().intercept(bearer).build();
  }

  /** Shuts an owned channel down, waiting a little for calls to end. */
  static void shutdown(ManagedChannel channel) {
    if (channel == null) {
      return;
    }
    channel.shutdownNow();
    try {
      channel.awaitTermination(5, TimeUnit.SECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }
}
