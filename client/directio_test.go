package client

import (
	"bytes"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/snapsync/snapsync/internal/durable"
)

// noDirectFS refuses direct I/O as tmpfs did before Linux 6.6 and some FUSE
// filesystems still do, and counts the opens that asked for it.
type noDirectFS struct {
	durable.StageFS
	asked *int
}

func (f noDirectFS) OpenFile(p string, flag int, perm fs.FileMode) (*os.File, error) {
	if oDirect != 0 && flag&oDirect != 0 {
		*f.asked++
		return nil, &fs.PathError{Op: "open", Path: p, Err: syscall.EINVAL}
	}
	return f.StageFS.OpenFile(p, flag, perm)
}

// TestChunkWriter writes a file as a stream does, whole aligned chunks and a
// short last one, plus a chunk from an unaligned buffer, and checks every
// byte, with direct I/O, with it refused by the filesystem, and with
// buffered writes asked for.
func TestChunkWriter(t *testing.T) {
	const chunk = 64 << 10
	rng := rand.New(rand.NewPCG(1, 2))
	want := make([]byte, 3*chunk+1234)
	for i := range want {
		want[i] = byte(rng.Uint32())
	}
	tests := []struct {
		name       string
		buffered   bool
		refuse     bool
		wantDirect bool
	}{
		{"direct", false, false, oDirect != 0},
		{"refused by the filesystem", false, true, false},
		{"buffered asked for", true, false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), "000001.sst")
			var fsys durable.StageFS = durable.OS()
			asked := 0
			if tt.refuse {
				fsys = noDirectFS{StageFS: fsys, asked: &asked}
			}
			if err := createFile(fsys, p, int64(len(want))); err != nil {
				t.Fatal(err)
			}
			if tt.wantDirect {
				// A filesystem without direct I/O (tmpfs before Linux
				// 6.6) cannot show it; the refused case still runs.
				f, err := os.OpenFile(p, os.O_WRONLY|oDirect, 0)
				if directRefused(err) {
					t.Skipf("%s refuses direct I/O", filepath.Dir(p))
				}
				if err != nil {
					t.Fatal(err)
				}
				f.Close()
			}
			w := &chunkWriter{fs: fsys, buffered: tt.buffered}
			defer w.close()
			buf := alignedBuf(chunk)
			for off := 0; off < len(want); off += chunk {
				data := want[off:min(off+chunk, len(want))]
				if off == chunk { // an unaligned buffer: written buffered
					data = append(make([]byte, 1, chunk+1), data...)[1:]
				} else {
					data = buf[:copy(buf, data)]
				}
				if err := w.writeAt(p, data, int64(off)); err != nil {
					t.Fatal(err)
				}
			}
			if gotDirect := w.d != nil; gotDirect != tt.wantDirect {
				t.Errorf("direct I/O used: %v, want %v", gotDirect, tt.wantDirect)
			}
			if tt.refuse && oDirect != 0 && (asked != 1 || !w.buffered) {
				t.Errorf("refused direct I/O asked for %d times, buffered after: %v; want once, true", asked, w.buffered)
			}
			w.close()
			got, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, want) {
				t.Fatal("file content differs from what was written")
			}
		})
	}
}

func TestDirectOK(t *testing.T) {
	a := alignedBuf(2 * directAlign)
	tests := []struct {
		name string
		data []byte
		off  int64
		want bool
	}{
		{"aligned", a, directAlign, true},
		{"unaligned offset", a, 512, false},
		{"short length", a[:directAlign+1], 0, false},
		{"unaligned buffer", a[1 : directAlign+1], 0, false},
		{"empty", a[:0], 0, false},
	}
	for _, tt := range tests {
		if got := directOK(tt.data, tt.off); got != (tt.want && oDirect != 0) {
			t.Errorf("%s: %v, want %v", tt.name, got, tt.want)
		}
	}
}
