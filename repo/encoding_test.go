package repo

import (
	"bytes"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/snapsync/snapsync/internal/wire"
)

// TestEncodeRoundTrip stores compressible chunks of every length from 1 to
// 4 KiB and a few larger: each decodes to itself. (A zstd frame without a
// content size, which the encoder writes for inputs under 256 bytes, or
// with a window over the input's length, as for exactly 1 KiB, was stored
// and then refused on every read: verify called the chunk damaged.)
func TestEncodeRoundTrip(t *testing.T) {
	t.Parallel()
	c, err := newCodec()
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(12, 1))
	var b strings.Builder
	for b.Len() < 1<<20 {
		b.WriteString("key-" + strings.Repeat("v", int(rng.Uint32N(40))) + " = value\n")
	}
	text := []byte(b.String())
	lengths := []int{64 << 10, 1 << 20}
	for n := 1; n <= 4096; n++ {
		lengths = append(lengths, n)
	}
	zstd := 0
	for _, n := range lengths {
		stored := c.encode(text[:n], 0, 0)
		if stored[0] == encZstd {
			zstd++
		}
		got, err := c.decode(stored, uint32(n))
		if err != nil || !bytes.Equal(got, text[:n]) {
			t.Fatalf("chunk of %d bytes stored with encoding %d: decode = %d bytes, %v", n, stored[0], len(got), err)
		}
	}
	if zstd < len(lengths)/2 {
		t.Fatalf("only %d of %d compressible chunks stored compressed", zstd, len(lengths))
	}
}

// TestEncodeDecidesOnSample: in format 2 a chunk of at least four samples
// is compressed only when its middle 64 KiB sample compresses, so a chunk
// whose sample is random is stored raw without compressing the rest; one of
// text is compressed. Format 1 compresses every chunk whole.
func TestEncodeDecidesOnSample(t *testing.T) {
	t.Parallel()
	text := bytes.Repeat([]byte("key-0001 = value of a text chunk\n"), 40000)[:1<<20]
	noisy := bytes.Clone(text)
	at, n, _ := wire.Sample(len(noisy))
	_, _ = rand.NewChaCha8([32]byte{3}).Read(noisy[at : at+n]) // never fails
	testCases := []struct {
		name    string
		sampled bool
		data    []byte
		want    byte
	}{
		{"text, sampled", true, text, encZstd},
		{"random sample, sampled", true, noisy, encRaw},
		{"random sample, whole", false, noisy, encZstd},
		{"small, sampled", true, text[:4096], encZstd},
	}
	for _, tc := range testCases {
		c, err := newCodec()
		if err != nil {
			t.Fatal(err)
		}
		c.sampled = tc.sampled
		stored := c.encode(tc.data, 0, 0)
		if stored[0] != tc.want {
			t.Errorf("%s: encoding %d, want %d", tc.name, stored[0], tc.want)
		}
		if got, err := c.decode(stored, uint32(len(tc.data))); err != nil || !bytes.Equal(got, tc.data) {
			t.Errorf("%s: decode: %v", tc.name, err)
		}
	}
}
