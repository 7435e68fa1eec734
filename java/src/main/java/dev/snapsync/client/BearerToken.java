package dev.snapsync.client;

import io.grpc.CallOptions;
import io.grpc.Channel;
import io.grpc.ClientCall;
import io.grpc.ClientInterceptor;
import io.grpc.ForwardingClientCall;
import io.grpc.Metadata;
import io.grpc.MethodDescriptor;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Sends {@code authorization: Bearer TOKEN} on every call, as the sidecar's local API on loopback
 * TCP requires (the content of its {@code --local-token-file}). On a unix socket no token is
 * needed. The token never appears in {@link #toString()}, in exceptions or in logs.
 */
public final class BearerToken implements ClientInterceptor {
  private static final Metadata.Key<String> AUTHORIZATION =
      Metadata.Key.of("authorization", Metadata.ASCII_STRING_MARSHALLER);

  private final String header;

  /**
   * Makes an interceptor sending this token.
   *
   * @param token the token, printable ASCII without spaces; surrounding white space is trimmed
   * @throws IllegalArgumentException if the token is empty or has other characters (the message
   *     does not include it)
   */
  public BearerToken(String token) {
    String t = token == null ? "" : token.trim();
    if (t.isEmpty()) {
      throw new IllegalArgumentException("empty bearer token");
    }
    for (int i = 0; i < t.length(); i++) {
      char c = t.charAt(i);
      if (c <= ' ' || c > '~') {
        throw new IllegalArgumentException(
            "the bearer token has a character that cannot go into a header, at offset " + i);
      }
    }
    this.header = "Bearer " + t;
  }

  /**
   * Reads the token from a file, such as the sidecar's {@code --local-token-file}.
   *
   * @param file the file holding the token (a trailing newline is fine)
   * @return the interceptor
   * @throws IOException if the file cannot be read
   */
  public static BearerToken fromFile(Path file) throws IOException {
    return new BearerToken(new String(Files.readAllBytes(file), StandardCharsets.UTF_8));
  }

  @Override
  public <Q, R> ClientCall<Q, R> interceptCall(
      MethodDescriptor<Q, R> method, CallOptions options, Channel next) {
    return new ForwardingClientCall.SimpleForwardingClientCall<Q, R>(next.newCall(method, options)) {
      @Override
      public void start(Listener<R> listener, Metadata headers) {
        headers.put(AUTHORIZATION, header);
        super.start(listener, headers);
      }
    };
  }

  /** Returns a description without the token. */
  @Override
  public String toString() {
    return "BearerToken(redacted)";
  }
}
