package repo

import (
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

// FuzzDecodeInfo feeds index objects to their decoder.
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
	f.Add([]byte(`{"version":99}`))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := decodeConfig(b)
		if err == nil && c.Version != FormatVersion {
			t.Fatalf("accepted version %d", c.Version)
		}
	})
}
