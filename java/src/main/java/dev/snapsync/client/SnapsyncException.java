package dev.snapsync.client;

import io.grpc.Metadata;
import io.grpc.Status;
import java.io.IOException;
import java.util.Collections;
import java.util.Map;
import java.util.TreeMap;

/**
 * A failed call to the sidecar: the gRPC status code, the sidecar's {@link Reason} (from the
 * {@code google.rpc.ErrorInfo} detail of domain {@value Reason#DOMAIN}) and the ErrorInfo's
 * metadata, such as {@code newest_index} and {@code min_index} with {@link
 * Reason#MIN_INDEX_NOT_REACHED}. Act on the code and the reason, never on the message.
 */
public final class SnapsyncException extends IOException {
  private static final long serialVersionUID = 1L;

  private static final Metadata.Key<byte[]> STATUS_DETAILS =
      Metadata.Key.of("grpc-status-details-bin", Metadata.BINARY_BYTE_MARSHALLER);

  /** The gRPC status code. */
  private final Status.Code code;

  /** The status description. */
  private final String description;

  /** The ErrorInfo reason, or empty. */
  private final String reasonName;

  /** The ErrorInfo metadata. */
  private final Map<String, String> metadata;

  /**
   * Makes an exception; the library makes them from gRPC failures ({@link #from(Throwable)}).
   *
   * @param code the gRPC status code
   * @param description what went wrong, in words
   * @param reasonName the ErrorInfo reason, or empty when there is none
   * @param metadata the ErrorInfo metadata
   * @param cause the underlying failure, or null
   */
  public SnapsyncException(
      Status.Code code,
      String description,
      String reasonName,
      Map<String, String> metadata,
      Throwable cause) {
    super(message(code, description, reasonName, metadata), cause);
    this.code = code;
    this.description = description == null ? "" : description;
    this.reasonName = reasonName == null ? "" : reasonName;
    this.metadata =
        Collections.unmodifiableMap(
            new TreeMap<String, String>(
                metadata == null ? Collections.<String, String>emptyMap() : metadata));
  }

  /**
   * Returns t as a SnapsyncException: t itself if it is one, else its gRPC status with the
   * reason and metadata of its status details ({@code UNKNOWN} for a failure that is not a gRPC
   * one).
   *
   * @param t a failure of a call, such as a {@link io.grpc.StatusRuntimeException}
   * @return the exception
   */
  public static SnapsyncException from(Throwable t) {
    if (t instanceof SnapsyncException) {
      return (SnapsyncException) t;
    }
    Status status = Status.fromThrowable(t);
    Metadata trailers = Status.trailersFromThrowable(t);
    StatusDetails details = trailers == null ? null : StatusDetails.parse(trailers.get(STATUS_DETAILS));
    String description = status.getDescription();
    if (description == null && status.getCause() != null) {
      description = status.getCause().toString();
    }
    return new SnapsyncException(
        status.getCode(),
        description,
        details == null ? "" : details.reason,
        details == null ? null : details.metadata,
        t);
  }

  /**
   * Returns the gRPC status code of the failure.
   *
   * @return the code
   */
  public Status.Code code() {
    return code;
  }

  /**
   * Returns the reason the sidecar gave; {@link Reason#UNKNOWN} when it gave none or one this
   * library does not know (see {@link #reasonName()}).
   *
   * @return the reason
   */
  public Reason reason() {
    return Reason.of(reasonName);
  }

  /**
   * Returns the reason's name as it travelled, e.g. {@code "MIN_INDEX_NOT_REACHED"}, or an empty
   * string when the error carried none.
   *
   * @return the reason's name
   */
  public String reasonName() {
    return reasonName;
  }

  /**
   * Returns the ErrorInfo metadata, sorted by key, e.g. {@code {min_index=2001,
   * newest_index=2000}}; empty when there is none.
   *
   * @return an unmodifiable map
   */
  public Map<String, String> metadata() {
    return metadata;
  }

  /**
   * Returns the status description: what went wrong, in words.
   *
   * @return the description, possibly empty
   */
  public String description() {
    return description;
  }

  private static String message(
      Status.Code code, String description, String reason, Map<String, String> metadata) {
    StringBuilder b = new StringBuilder(String.valueOf(code));
    if (reason != null && !reason.isEmpty()) {
      b.append(' ').append(reason);
    }
    if (metadata != null && !metadata.isEmpty()) {
      b.append(' ').append(new TreeMap<String, String>(metadata));
    }
    if (description != null && !description.isEmpty()) {
      b.append(": ").append(description);
    }
    return b.toString();
  }
}
