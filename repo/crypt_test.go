package repo

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/snapsync/snapsync/verify"
)

// testCrypt returns the keys of a new random master key.
func testCrypt(tb testing.TB) *crypt {
	tb.Helper()
	k, _, err := GenerateKey()
	if err != nil {
		tb.Fatal(err)
	}
	c, err := newCrypt(k.b[:])
	if err != nil {
		tb.Fatal(err)
	}
	return c
}

// readStream reads the plaintext of the sealed stream b.
func readStream(c *crypt, b []byte, aad string) ([]byte, error) {
	rc, err := c.openStream(io.NopCloser(bytes.NewReader(b)), int64(len(b)), aad)
	if err != nil {
		return nil, err
	}
	return io.ReadAll(rc)
}

func TestStreamRoundTrip(t *testing.T) {
	t.Parallel()
	c := testCrypt(t)
	for _, n := range []int{0, 1, streamSegment - 1, streamSegment, streamSegment + 1, 3*streamSegment + 5} {
		plain := bytes.Repeat([]byte{byte(n)}, n)
		sealed, err := c.sealStream(plain, "manifests/x")
		if err != nil {
			t.Fatal(err)
		}
		if size, err := streamPlainSize(int64(len(sealed))); err != nil || size != int64(n) {
			t.Fatalf("%d bytes: streamPlainSize(%d) = %d, %v", n, len(sealed), size, err)
		}
		got, err := readStream(c, sealed, "manifests/x")
		if err != nil || !bytes.Equal(got, plain) {
			t.Fatalf("%d bytes: read back %d bytes, %v", n, len(got), err)
		}
	}
}

// TestStreamTampered: every change to a sealed stream is ErrCorrupt, and
// no byte of the segment it is in is delivered.
func TestStreamTampered(t *testing.T) {
	t.Parallel()
	c := testCrypt(t)
	plain := bytes.Repeat([]byte("manifest "), 2*streamSegment/9+100) // three segments
	sealed, err := c.sealStream(plain, "manifests/a")
	if err != nil {
		t.Fatal(err)
	}
	flip := func(at int) []byte {
		b := bytes.Clone(sealed)
		b[at] ^= 1
		return b
	}
	segs := func(b []byte) []byte { return b[streamPrefix:] }
	swapped := bytes.Clone(sealed)
	copy(segs(swapped), segs(sealed)[streamSealed:2*streamSealed])
	copy(segs(swapped)[streamSealed:], segs(sealed)[:streamSealed])
	testCases := []struct {
		name string
		b    []byte
		aad  string
	}{
		{"prefix flipped", flip(0), "manifests/a"},
		{"first segment flipped", flip(streamPrefix + 10), "manifests/a"},
		{"tag flipped", flip(len(sealed) - 1), "manifests/a"},
		{"cut at a segment", sealed[:streamPrefix+2*streamSealed], "manifests/a"},
		{"cut mid-segment", sealed[:len(sealed)-5], "manifests/a"},
		{"longer", append(bytes.Clone(sealed), 0), "manifests/a"},
		{"segments swapped", swapped, "manifests/a"},
		{"another object's", sealed, "manifests/b"},
	}
	for _, tc := range testCases {
		got, err := readStream(c, tc.b, tc.aad)
		if !errors.Is(err, ErrCorrupt) {
			t.Errorf("%s: %v, want ErrCorrupt", tc.name, err)
		}
		if len(got) > 0 && !bytes.Equal(got, plain[:len(got)]) {
			t.Errorf("%s: delivered %d bytes that are not the plaintext's", tc.name, len(got))
		}
	}
}

// TestBlobSealedInPlace: a blob body is sealed behind its room without a
// copy, opens only under its stored ID, and a flipped byte anywhere fails.
func TestBlobSealedInPlace(t *testing.T) {
	t.Parallel()
	c := testCrypt(t)
	data := bytes.Repeat([]byte{7}, 4096)
	buf := stored(encRaw, data, nonceSize, tagSize)
	body, err := c.sealBody(buf, verify.Digest{1})
	if err != nil {
		t.Fatal(err)
	}
	if &body[0] != &buf[0] || len(body) != 1+len(data)+sealOverhead {
		t.Fatalf("sealed into a copy, or %d bytes", len(body))
	}
	if _, err := c.openBody(bytes.Clone(body), verify.Digest{2}); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("opened under another chunk's ID: %v", err)
	}
	for _, at := range []int{0, nonceSize, len(body) / 2, len(body) - 1} {
		b := bytes.Clone(body)
		b[at] ^= 0x80
		if _, err := c.openBody(b, verify.Digest{1}); !errors.Is(err, ErrCorrupt) {
			t.Fatalf("flipped at %d: %v", at, err)
		}
	}
	plain, err := c.openBody(body, verify.Digest{1})
	if err != nil || plain[0] != encRaw || !bytes.Equal(plain[1:], data) {
		t.Fatalf("open = %v", err)
	}
}

func TestReadKeyFile(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	_, good, err := GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	write := func(name string, data []byte, mode os.FileMode) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, data, mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, mode); err != nil {
			t.Fatal(err)
		}
		return p
	}
	link := filepath.Join(dir, "link")
	if err := os.Symlink(write("target", good, 0o400), link); err != nil {
		t.Fatal(err)
	}
	testCases := []struct {
		name string
		path string
		want string // in the error; "" for none
	}{
		{"0600", write("ok", good, 0o600), ""},
		{"spaces around", write("spaced", append([]byte("  \n"), good...), 0o600), ""},
		{"through a symlink", link, ""},
		{"group-readable", write("group", good, 0o640), "mode 0640"},
		{"world-readable", write("world", good, 0o604), "mode 0604"},
		{"group-writable", write("gw", good, 0o620), "mode 0620"},
		{"too short", write("short", good[:40], 0o600), "too short"},
		{"too long", write("long", append(bytes.Clone(good[:64]), good...), 0o600), "want exactly"},
		{"not hex", write("nothex", bytes.Repeat([]byte("z"), 64), 0o600), "not hexadecimal"},
		{"a directory", dir, "no regular file"},
		{"absent", filepath.Join(dir, "absent"), "no such file"},
	}
	for _, tc := range testCases {
		k, err := ReadKeyFile(tc.path)
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%s: %v", tc.name, err)
		case tc.want != "" && (!errors.Is(err, ErrKeyFile) || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("%s: %v, want ErrKeyFile saying %q", tc.name, err, tc.want)
		case err == nil && strings.Contains(k.String()+k.GoString(), string(good[:8])):
			t.Errorf("%s: a key's String shows it", tc.name)
		}
	}
}

// BenchmarkSealBlob seals a 1 MiB chunk's blob body in place, as PutChunk
// does.
func BenchmarkSealBlob(b *testing.B) {
	c := testCrypt(b)
	data := bytes.Repeat([]byte{3}, 1<<20)
	buf := stored(encRaw, data, nonceSize, tagSize)
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if _, err := c.sealBody(buf[:nonceSize+1+len(data)], verify.Digest{1}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkOpenBlob opens a sealed 1 MiB chunk's blob body in place, as
// GetChunk does (each iteration also copies the ciphertext back: 1 MiB of
// memmove).
func BenchmarkOpenBlob(b *testing.B) {
	c := testCrypt(b)
	data := bytes.Repeat([]byte{3}, 1<<20)
	body, err := c.sealBody(stored(encRaw, data, nonceSize, tagSize), verify.Digest{1})
	if err != nil {
		b.Fatal(err)
	}
	sealed := bytes.Clone(body)
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		copy(body, sealed)
		if _, err := c.openBody(body, verify.Digest{1}); err != nil {
			b.Fatal(err)
		}
	}
}
