package verify

import (
	"bytes"
	"testing"
)

// streamEncode encodes m with the streaming pieces.
func streamEncode(m *Manifest) []byte {
	b := AppendHead(nil, &m.Meta, m.ChunkSize, m.Dirs, len(m.Files))
	for _, f := range m.Files {
		head := len(b)
		b = AppendFileHead(b, f.Path, f.LinkTo, f.Size, f.Mode, len(f.Chunks))
		if got, want := len(b)-head, FileHeadSize(len(f.Path), f.LinkTo >= 0); got != want {
			panic("FileHeadSize disagrees with AppendFileHead")
		}
		if f.LinkTo >= 0 {
			continue
		}
		for _, c := range f.Chunks {
			b = AppendChunk(b, c)
			if ParseChunk(b[len(b)-ChunkRecordSize:]) != c {
				panic("ParseChunk does not read AppendChunk")
			}
		}
	}
	return b
}

func TestStreamEncodeMatchesEncode(t *testing.T) {
	for name, m := range map[string]*Manifest{
		"empty":  {ChunkSize: MinChunkSize},
		"sample": sampleManifest(),
		"links":  linksManifest(),
	} {
		t.Run(name, func(t *testing.T) {
			want, err := m.Encode()
			if err != nil {
				t.Fatal(err)
			}
			if got := streamEncode(m); !bytes.Equal(got, want) {
				t.Fatalf("streamed encoding differs from Encode:\n got %x\nwant %x", got, want)
			}
		})
	}
}

// FuzzStreamEncode: every manifest Decode accepts streams to its own bytes.
func FuzzStreamEncode(f *testing.F) {
	for _, m := range []*Manifest{sampleManifest(), linksManifest()} {
		b, err := m.Encode()
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := Decode(b)
		if err != nil {
			return
		}
		if got := streamEncode(m); !bytes.Equal(got, b) {
			t.Fatalf("streamed encoding differs from the canonical bytes")
		}
	})
}
