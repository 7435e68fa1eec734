package digestkey

import (
	"testing"

	"github.com/snapsync/snapsync/verify"
)

// TestKey: one Key gives a digest one key, distinct digests distinct keys
// (at these numbers), and two Keys differ in their seeds.
func TestKey(t *testing.T) {
	a, b := New(), New()
	seen := make(map[uint64]bool)
	for i := range 1000 {
		d := verify.Sum([]byte{byte(i), byte(i >> 8)})
		if a.Of(&d) != a.Of(&d) {
			t.Fatal("one digest, two keys")
		}
		if seen[a.Of(&d)] {
			t.Fatalf("digest %d collides", i)
		}
		seen[a.Of(&d)] = true
	}
	d := verify.Sum([]byte("x"))
	if a.Of(&d) == b.Of(&d) {
		t.Fatal("two Keys gave one key: the seed is not random")
	}
}
