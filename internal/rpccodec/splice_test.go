package rpccodec

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	snapsyncv1 "github.com/snapsync/snapsync/proto/gen/snapsync/v1"
)

// deferred records what the codec left to a Splicer.
type deferred struct {
	region []byte
	f      *os.File
	off    int64
	calls  int
}

func (d *deferred) Defer(region []byte, f *os.File, off int64) {
	d.region, d.f, d.off = region, f, off
	d.calls++
}

// TestChunkFrameSplice: with a Splicer, a raw chunk of at least twice
// SpliceHead read from an *os.File has its first SpliceHead bytes read and
// the rest of the message left unread and named, exactly the tail of the
// buffer; anything else is read whole, as without one.
func TestChunkFrameSplice(t *testing.T) {
	data := bytes.Repeat([]byte("0123456789abcdefghijklmnopqrstuv"), 8<<10) // 256 KiB
	path := filepath.Join(t.TempDir(), "f")
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	file, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer file.Close()
	tests := []struct {
		name    string
		frame   ChunkFrame
		spliced bool
	}{
		{"long chunk", ChunkFrame{FileIndex: 2, ChunkIndex: 5, From: file, Offset: 1000, Len: 200 << 10}, true},
		{"exactly twice the head", ChunkFrame{From: file, Offset: 7, Len: 2 * SpliceHead}, true},
		{"one byte short", ChunkFrame{From: file, Offset: 7, Len: 2*SpliceHead - 1}, false},
		{"zstd data", ChunkFrame{Encoding: snapsyncv1.Encoding_ENCODING_ZSTD, Data: data[:100<<10]}, false},
		{"not an *os.File", ChunkFrame{From: bytes.NewReader(data), Offset: 0, Len: 100 << 10}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var d deferred
			tt.frame.Splice = &d
			whole := tt.frame
			whole.Splice = nil
			want, err := Codec{}.MarshalAppend([]byte("pre"), &whole)
			if err != nil {
				t.Fatal(err)
			}
			got, err := Codec{}.MarshalAppend([]byte("pre"), &tt.frame)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(want) {
				t.Fatalf("%d bytes, want %d", len(got), len(want))
			}
			if !tt.spliced {
				if d.calls != 0 || !bytes.Equal(got, want) {
					t.Fatalf("%d Defer calls; encoding equal: %v", d.calls, bytes.Equal(got, want))
				}
				return
			}
			n := tt.frame.Len - SpliceHead
			if d.calls != 1 || d.f != file || d.off != tt.frame.Offset+SpliceHead || len(d.region) != n {
				t.Fatalf("Defer(%d bytes, %v, %d) x%d, want (%d, %v, %d) once", len(d.region), d.f, d.off, d.calls, n, file, tt.frame.Offset+SpliceHead)
			}
			head := len(got) - n
			if &d.region[0] != &got[head] || cap(d.region) < n {
				t.Fatal("the region named is not the end of the buffer marshalled")
			}
			if !bytes.Equal(got[:head], want[:head]) {
				t.Fatal("the message's head differs from the encoding read whole")
			}
			copy(got[head:], data[d.off:d.off+int64(n)]) // what the Splicer sends
			if !bytes.Equal(got, want) {
				t.Fatal("head and region together are not the encoding read whole")
			}
		})
	}
}
