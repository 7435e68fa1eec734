package verify

import (
	"fmt"
	"path"
	"strings"
	"unicode/utf8"
)

// ValidatePath checks that p is a clean, relative, slash-separated path that
// stays inside the tree it names a member of: no "..", no absolute paths, no
// empty or "." elements, no backslashes or NUL bytes, valid UTF-8, bounded
// length. Paths in manifests and requests are untrusted until they pass.
func ValidatePath(p string) error {
	bad := func(why string) error { return fmt.Errorf("%w %q: %s", ErrBadPath, p, why) }
	switch {
	case p == "":
		return bad("empty")
	case len(p) > MaxPathLen:
		return bad(fmt.Sprintf("longer than %d bytes", MaxPathLen))
	case !utf8.ValidString(p):
		return bad("not UTF-8")
	case strings.ContainsAny(p, "\x00\\"):
		return bad("contains NUL or backslash")
	case strings.HasPrefix(p, "/"):
		return bad("absolute")
	case path.Clean(p) != p || p == ".":
		return bad("not clean")
	}
	for _, elem := range strings.Split(p, "/") {
		if elem == ".." {
			return bad("escapes the tree")
		}
	}
	return nil
}
