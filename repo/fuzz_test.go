package repo

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"errors"
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
	f.Add(c.encode(text, 0, 0), uint32(len(text)))
	f.Add(c.encode([]byte{1, 2, 3}, 0, 0), uint32(3))
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
		info, err := decodeInfo(nil, id, b)
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

// FuzzDecodeIndex feeds index objects to their decoder: it never panics, and what it accepts encodes to an index it accepts again.
func FuzzDecodeIndex(f *testing.F) {
	f.Add([]byte(indexMagic + "\x00\x00\x00\x00\x00\x00\x00\x00"))
	good := encodeIndex([]indexEntry{
		{digest: verify.Sum([]byte("a")), location: location{pack: verify.Digest{1}, offset: uint32(packHeaderSize), stored: 2, raw: 1, enc: encRaw}},
		{digest: verify.Sum([]byte("b")), location: location{pack: verify.Digest{1}, offset: 20, stored: 30, raw: 100, enc: encZstd}},
		{digest: verify.Sum([]byte("c")), location: location{pack: verify.Digest{2}, offset: uint32(packHeaderSize), stored: 5, raw: 4, enc: encRaw}},
	})
	f.Add(good)
	f.Add(good[:len(good)-1])
	f.Fuzz(func(t *testing.T, b []byte) {
		entries, err := decodeIndex(sha256.Sum256(b), b, 0)
		if err != nil {
			return
		}
		again := encodeIndex(entries)
		back, err := decodeIndex(sha256.Sum256(again), again, 0)
		if err != nil || len(back) != len(entries) {
			t.Fatalf("%d entries accepted encode to an index that decodes to %d, %v", len(entries), len(back), err)
		}
	})
}

// fuzzCrypt returns the keys of a fixed master key, so that seeds sealed
// under it open.
func fuzzCrypt(f *testing.F) *crypt {
	c, err := newCrypt(bytes.Repeat([]byte{0x5a}, KeySize))
	if err != nil {
		f.Fatal(err)
	}
	return c
}

// FuzzOpenKeyslot feeds config objects to their decoder and the keyslots
// of those it accepts to a key: never a panic; a key opens only the slot
// sealed under it, and every failure to open is ErrWrongKey.
func FuzzOpenKeyslot(f *testing.F) {
	key := &Key{b: [KeySize]byte{1}}
	slot, err := sealKeyslot(key, bytes.Repeat([]byte{2}, KeySize))
	if err != nil {
		f.Fatal(err)
	}
	good, err := json.Marshal(config{Version: Format2, Encryption: EncryptionAES256GCM, Keyslot: slot})
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good)
	f.Add([]byte(`{"version":2,"encryption":"aes-256-gcm","keyslot":{"kdf":"hkdf-sha256","salt":"","sealed":""}}`))
	f.Add([]byte(`{"version":2,"encryption":"none"}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		cfg, err := decodeConfig(b)
		if err != nil {
			return
		}
		c, err := cfg.unlock(key)
		switch {
		case cfg.Encryption == EncryptionNone && !errors.Is(err, ErrNotEncrypted):
			t.Fatalf("a plaintext config unlocked with a key: %v", err)
		case cfg.Encryption == EncryptionAES256GCM && err != nil && !errors.Is(err, ErrWrongKey):
			t.Fatalf("a keyslot failed to open with %v, not ErrWrongKey", err)
		case err == nil && cfg.Encryption == EncryptionAES256GCM && c == nil:
			t.Fatal("an encrypted config unlocked to no keys")
		}
	})
}

// FuzzOpenStream feeds sealed manifest streams to their reader: it never
// panics, refuses anything but a stream sealed under its key as
// ErrCorrupt, and delivers nothing it did not authenticate.
func FuzzOpenStream(f *testing.F) {
	c := fuzzCrypt(f)
	plain := bytes.Repeat([]byte("manifest"), 10)
	for _, p := range [][]byte{nil, plain} {
		sealed, err := c.sealStream(p, "manifests/x")
		if err != nil {
			f.Fatal(err)
		}
		f.Add(sealed)
	}
	f.Add([]byte("12345678"))
	f.Fuzz(func(t *testing.T, b []byte) {
		got, err := readStream(c, b, "manifests/x")
		if err != nil && !errors.Is(err, ErrCorrupt) {
			t.Fatalf("%v, want ErrCorrupt", err)
		}
		if err == nil && len(got) > 0 && !bytes.Equal(got, plain) {
			t.Fatalf("delivered %q, never sealed", got)
		}
	})
}

// FuzzOpenBlob feeds sealed blob bodies to their opener and the decoder:
// never a panic, never more than the chunk's length.
func FuzzOpenBlob(f *testing.F) {
	c := fuzzCrypt(f)
	cd, err := newCodec()
	if err != nil {
		f.Fatal(err)
	}
	id := verify.Digest{9}
	for _, data := range [][]byte{{1, 2, 3}, bytes.Repeat([]byte("abcd"), 300)} {
		body, err := c.sealBody(cd.encode(data, nonceSize, tagSize), id)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(body, uint32(len(data)))
	}
	f.Add(make([]byte, sealOverhead), uint32(0))
	f.Fuzz(func(t *testing.T, b []byte, length uint32) {
		length %= verify.MaxChunkSize + 2
		body, err := c.openBody(b, id)
		if err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("%v, want ErrCorrupt", err)
			}
			return
		}
		if out, err := cd.decode(body, length); err == nil && len(out) != int(length) {
			t.Fatalf("decoded %d bytes, want %d", len(out), length)
		}
	})
}
