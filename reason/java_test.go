package reason

import (
	"fmt"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"connectrpc.com/connect"

	"github.com/snapsync/snapsync/internal/golden"
)

// javaEnum is the Java client's Reason enum, committed under java/.
var javaEnum = filepath.Join("..", "java", "src", "main", "java", "dev", "snapsync", "client", "Reason.java")

// TestJavaEnum: the Java client's Reason enum is rendered from All(); with
// -update the test rewrites it.
func TestJavaEnum(t *testing.T) {
	golden.Check(t, javaEnum, renderJavaEnum(t, All()))
}

var javaConstant = regexp.MustCompile(`^[A-Z][A-Z0-9_]*$`)

// renderJavaEnum returns the source of the Java enum of reasons.
func renderJavaEnum(tb testing.TB, all []Info) []byte {
	tb.Helper()
	var b strings.Builder
	b.WriteString(`// Code generated from the Go package reason (reason/all.go) by reason/java_test.go; DO NOT EDIT.
// Regenerate with: go test ./reason -update

package dev.snapsync.client;

import io.grpc.Status;
import java.util.HashMap;
import java.util.Map;

/**
 * Why a call to snapsync failed: the reason of the {@code google.rpc.ErrorInfo} detail, domain
 * {@value #DOMAIN}, that every error of the sidecar's APIs carries ({@link
 * SnapsyncException#reason()}). Compare reasons, never messages. A reason that a newer sidecar
 * sends and this library does not know is {@link #UNKNOWN}; its name is still in {@link
 * SnapsyncException#reasonName()}.
 */
public enum Reason {
`)
	for _, info := range all {
		if !javaConstant.MatchString(info.Name) || info.Name == "UNKNOWN" {
			tb.Fatalf("reason %q cannot be a Java enum constant", info.Name)
		}
		code := grpcJavaCode(info.Code)
		fmt.Fprintf(&b, "  /** %s Usually {@code %s}. */\n", javadoc(tb, info.Doc), code)
		fmt.Fprintf(&b, "  %s(Status.Code.%s, %s),\n", info.Name, code, javaString(tb, info.Doc))
	}
	b.WriteString(`  /** A reason this library does not know, or an error that carries none. */
  UNKNOWN(Status.Code.UNKNOWN, "A reason this library does not know, or none.");

  /** The {@code google.rpc.ErrorInfo} domain of every snapsync reason. */
  public static final String DOMAIN = "snapsync.dev";

  private static final Map<String, Reason> BY_NAME = new HashMap<String, Reason>();

  static {
    for (Reason r : values()) {
      if (r != UNKNOWN) {
        BY_NAME.put(r.name(), r);
      }
    }
  }

  private final Status.Code code;
  private final String doc;

  Reason(Status.Code code, String doc) {
    this.code = code;
    this.doc = doc;
  }

  /**
   * Returns the gRPC status code a call failing with this reason usually ends with.
   *
   * @return the usual code
   */
  public Status.Code code() {
    return code;
  }

  /**
   * Returns what this reason means, in one line.
   *
   * @return the reason's documentation
   */
  public String doc() {
    return doc;
  }

  /**
   * Returns the reason of this name, as it travels in {@code ErrorInfo.reason}.
   *
   * @param name the reason's name, e.g. {@code "MIN_INDEX_NOT_REACHED"}; may be null
   * @return the reason, or {@link #UNKNOWN} for a name this library does not know, empty or null
   */
  public static Reason of(String name) {
    Reason r = name == null ? null : BY_NAME.get(name);
    return r == null ? UNKNOWN : r;
  }
}
`)
	return []byte(b.String())
}

// grpcJavaCode names code as io.grpc.Status.Code does: Connect's names
// upper-cased, but for CANCELLED, which gRPC spells with two Ls.
func grpcJavaCode(code connect.Code) string {
	if code == connect.CodeCanceled {
		return "CANCELLED"
	}
	return strings.ToUpper(code.String())
}

// javaString quotes s as a Java string literal; s must be printable ASCII.
func javaString(tb testing.TB, s string) string {
	tb.Helper()
	asciiOnly(tb, s)
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s) + `"`
}

// javadoc escapes s for a Javadoc comment.
func javadoc(tb testing.TB, s string) string {
	tb.Helper()
	asciiOnly(tb, s)
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", "*/", "*&#47;", "@", "&#64;").Replace(s)
}

func asciiOnly(tb testing.TB, s string) {
	tb.Helper()
	for _, r := range s {
		if r < 0x20 || r > 0x7e {
			tb.Fatalf("doc %q: only printable ASCII goes into the Java source", s)
		}
	}
}
