package dev.snapsync.client;

import com.google.protobuf.ByteString;
import com.google.protobuf.CodedInputStream;
import java.io.IOException;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * StatusDetails reads the snapsync {@code google.rpc.ErrorInfo} out of the {@code
 * grpc-status-details-bin} trailer, a serialized {@code google.rpc.Status}, with protobuf's
 * generic decoder: the library needs no googleapis classes, so it cannot clash with the ones a
 * node's build already has.
 */
final class StatusDetails {
  /** The trailer's content: google.rpc.Status{1: code, 2: message, 3: repeated Any details}. */
  private static final int STATUS_DETAILS = 3;

  private static final int ANY_TYPE_URL = 1;
  private static final int ANY_VALUE = 2;
  private static final String ERROR_INFO = "google.rpc.ErrorInfo";
  private static final int INFO_REASON = 1;
  private static final int INFO_DOMAIN = 2;
  private static final int INFO_METADATA = 3;
  private static final int ENTRY_KEY = 1;
  private static final int ENTRY_VALUE = 2;

  final String reason;
  final Map<String, String> metadata;

  private StatusDetails(String reason, Map<String, String> metadata) {
    this.reason = reason;
    this.metadata = Collections.unmodifiableMap(metadata);
  }

  /**
   * Returns the first ErrorInfo of domain {@link Reason#DOMAIN} in a serialized google.rpc.Status,
   * or null if there is none or the bytes do not parse.
   */
  static StatusDetails parse(byte[] status) {
    if (status == null) {
      return null;
    }
    try {
      CodedInputStream in = CodedInputStream.newInstance(status);
      for (int tag = in.readTag(); tag != 0; tag = in.readTag()) {
        if (tag == lengthDelimited(STATUS_DETAILS)) {
          StatusDetails d = parseAny(in.readBytes());
          if (d != null) {
            return d;
          }
        } else if (!in.skipField(tag)) {
          break;
        }
      }
    } catch (IOException e) {
      // A malformed trailer: the code and message still tell the caller what happened.
    }
    return null;
  }

  private static StatusDetails parseAny(ByteString any) throws IOException {
    CodedInputStream in = any.newCodedInput();
    String typeUrl = "";
    ByteString value = ByteString.EMPTY;
    for (int tag = in.readTag(); tag != 0; tag = in.readTag()) {
      if (tag == lengthDelimited(ANY_TYPE_URL)) {
        typeUrl = in.readStringRequireUtf8();
      } else if (tag == lengthDelimited(ANY_VALUE)) {
        value = in.readBytes();
      } else if (!in.skipField(tag)) {
        break;
      }
    }
    if (!typeUrl.substring(typeUrl.lastIndexOf('/') + 1).equals(ERROR_INFO)) {
      return null;
    }
    return parseErrorInfo(value);
  }

  private static StatusDetails parseErrorInfo(ByteString info) throws IOException {
    CodedInputStream in = info.newCodedInput();
    String reason = "";
    String domain = "";
    Map<String, String> metadata = new LinkedHashMap<String, String>();
    for (int tag = in.readTag(); tag != 0; tag = in.readTag()) {
      if (tag == lengthDelimited(INFO_REASON)) {
        reason = in.readStringRequireUtf8();
      } else if (tag == lengthDelimited(INFO_DOMAIN)) {
        domain = in.readStringRequireUtf8();
      } else if (tag == lengthDelimited(INFO_METADATA)) {
        readEntry(in.readBytes(), metadata);
      } else if (!in.skipField(tag)) {
        break;
      }
    }
    return Reason.DOMAIN.equals(domain) ? new StatusDetails(reason, metadata) : null;
  }

  private static void readEntry(ByteString entry, Map<String, String> into) throws IOException {
    CodedInputStream in = entry.newCodedInput();
    String key = "";
    String value = "";
    for (int tag = in.readTag(); tag != 0; tag = in.readTag()) {
      if (tag == lengthDelimited(ENTRY_KEY)) {
        key = in.readStringRequireUtf8();
      } else if (tag == lengthDelimited(ENTRY_VALUE)) {
        value = in.readStringRequireUtf8();
      } else if (!in.skipField(tag)) {
        break;
      }
    }
    into.put(key, value);
  }

  private static int lengthDelimited(int field) {
    return field << 3 | 2;
  }
}
