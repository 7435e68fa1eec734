package repo

import (
	"crypto/sha256"
	"testing"

	"github.com/snapsync/snapsync/verify"
)

// FuzzDecodeChunk feeds stored chunk objects to the decoder: it must return
// exactly length bytes or an error, never more, never panic.
func FuzzDecodeChunk(f *testing.F) {
	c, err := newCodec()
	if err != nil {
		f.Fatal(err)
	}
	text := []byte("key-vvvvvvvv = value\nkey-vv = value\nkey-vvvvvvvv = value\nkey-vv = value\n")
	f.Add(c.encode(text), uint32(len(text)))
	f.Add(c.encode([]byte{1, 2, 3}), uint32(3))
	f.Add([]byte{encZstd, 0x28, 0xb5, 0x2f, 0xfd}, uint32(10))
	f.Add([]byte{7}, uint32(0))
	f.Fuzz(func(t *testing.T, b []byte, length uint32) {
		length %= verify.MaxChunkSize + 2
		out, err := c.decode(b, length)
		if err == nil && len(out) != int(length) {
			t.Fatalf("decoded %d bytes, want %d", len(out), length)
		}
	})
}

// FuzzDecodeInfo feeds snapshot objects to their decoder.
func FuzzDecodeInfo(f *testing.F) {
	id := verify.Sum([]byte("x"))
	f.Add([]byte(`{"version":1,"id":"` + id.String() + `","term":3,"index":7,"bytes":10,"labels":{"a":"b"}}`))
	f.Add([]byte(`{"version":2}`))
	f.Add([]byte(`{"version":1,"id":"` + id.String() + `","bytes":-1}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		info, err := decodeInfo(id, b)
		if err == nil && (info.ID != id || info.Bytes < 0 || len(info.Labels) > verify.MaxLabels) {
			t.Fatalf("accepted %+v", info)
		}
	})
}

// FuzzDecodeConfig feeds config objects to their decoder.
func FuzzDecodeConfig(f *testing.F) {
	f.Add([]byte(`{"version":1}`))
	f.Add([]byte(`{"version":2,"encryption":"none"}`))
	f.Add([]byte(`{"version":99}`))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := decodeConfig(b)
		if err == nil && c.Version != Format1 && c.Version != Format2 {
			t.Fatalf("accepted version %d", c.Version)
		}
	})
}

// FuzzDecodeIndex feeds index objects to their decoder, under the key of
// their own SHA-256 (else every input is refused before it is parsed): it
// never panics, and what it accepts encodes to an index it accepts again.
func FuzzDecodeIndex(f *testing.F) {
	f.Add([]byte(indexMagic + "\x00\x00\x00\x00\x00\x00\x00\x00"))
	good, _ := encodeIndex([]indexEntry{
		{digest: verify.Sum([]byte("a")), location: location{pack: verify.Digest{1}, offset: uint32(packHeaderSize), stored: 2, raw: 1, enc: encRaw}},
		{digest: verify.Sum([]byte("b")), location: location{pack: verify.Digest{1}, offset: 20, stored: 30, raw: 100, enc: encZstd}},
		{digest: verify.Sum([]byte("c")), location: location{pack: verify.Digest{2}, offset: uint32(packHeaderSize), stored: 5, raw: 4, enc: encRaw}},
	})
	f.Add(good)
	f.Add(good[:len(good)-1])
	f.Fuzz(func(t *testing.T, b []byte) {
		entries, err := decodeIndex(sha256.Sum256(b), b)
		if err != nil {
			return
		}
		again, _ := encodeIndex(entries)
		back, err := decodeIndex(sha256.Sum256(again), again)
		if err != nil || len(back) != len(entries) {
			t.Fatalf("%d entries accepted encode to an index that decodes to %d, %v", len(entries), len(back), err)
		}
	})
}
