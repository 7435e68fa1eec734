package client

import (
	"bytes"
	"errors"
	"testing"

	"github.com/klauspost/compress/zstd"

	snapsyncv1 "github.com/snapsync/snapsync/proto/gen/snapsync/v1"
)

// FuzzDecodeChunk: whatever bytes a server sends as a chunk, decodeChunk
// never panics, returns errBadChunk or exactly length bytes, and never
// decodes beyond the chunk size.
func FuzzDecodeChunk(f *testing.F) {
	const chunkSize = 8 << 10
	enc, err := zstd.NewWriter(nil)
	if err != nil {
		f.Fatal(err)
	}
	plain := bytes.Repeat([]byte("snapsync "), 500)
	f.Add(int32(snapsyncv1.Encoding_ENCODING_ZSTD), enc.EncodeAll(plain, nil), uint32(len(plain)))
	f.Add(int32(snapsyncv1.Encoding_ENCODING_ZSTD), enc.EncodeAll(make([]byte, 1<<20), nil), uint32(chunkSize))
	f.Add(int32(snapsyncv1.Encoding_ENCODING_RAW), plain, uint32(len(plain)))
	f.Add(int32(snapsyncv1.Encoding_ENCODING_ZSTD), []byte{0x28, 0xb5, 0x2f, 0xfd, 0, 0, 0}, uint32(1))
	f.Add(int32(0), plain, uint32(len(plain)))
	enc.Close()
	dec, err := newDecoder(chunkSize)
	if err != nil {
		f.Fatal(err)
	}
	defer dec.Close()
	buf := make([]byte, chunkSize)
	f.Fuzz(func(t *testing.T, encoding int32, data []byte, length uint32) {
		if length == 0 || length > chunkSize {
			return // the manifest bounds every chunk's length
		}
		out, err := decodeChunk(dec, snapsyncv1.Encoding(encoding), data, length, buf)
		if err != nil {
			if !errors.Is(err, errBadChunk) {
				t.Fatalf("error %v is not errBadChunk", err)
			}
			return
		}
		if len(out) != int(length) {
			t.Fatalf("decoded %d bytes, want %d", len(out), length)
		}
		if snapsyncv1.Encoding(encoding) == snapsyncv1.Encoding_ENCODING_ZSTD && &out[0] != &buf[0] {
			t.Fatal("zstd output is not in the chunk buffer: it allocated")
		}
	})
}
