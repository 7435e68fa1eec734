package digestcache

import (
	"bytes"
	"encoding/binary"
	"errors"
	"testing"

	"github.com/snapsync/snapsync/internal/durable"
	"github.com/snapsync/snapsync/verify"
)

const cs = uint32(verify.MinChunkSize)

func sample() map[Key]*Entry {
	two := []verify.Chunk{{Length: cs, Digest: verify.Sum([]byte("a"))}, {Length: 7, Digest: verify.Sum([]byte("b"))}}
	return map[Key]*Entry{
		{ID: durable.FileID{Dev: 1, Ino: 2, Birth: 3}, Size: int64(cs) + 7, MtimeNs: 4, ChunkSize: cs}: {Chunks: two, Used: 9},
		{ID: durable.FileID{Dev: 1, Ino: 5}, Size: 0, MtimeNs: 6, ChunkSize: cs}:                       {Chunks: []verify.Chunk{}},
	}
}

// reseal replaces the seal of a cache file whose body was edited.
func reseal(b []byte) []byte { return seal(b[:len(b)-verify.DigestSize]) }

// seal appends the SHA-256 of body.
func seal(body []byte) []byte {
	sum := verify.Sum(body)
	return append(body[:len(body):len(body)], sum[:]...)
}

func TestRoundTrip(t *testing.T) {
	t.Parallel()
	b := Encode(7, sample())
	gen, got, err := Decode(b, 64)
	if err != nil || gen != 7 || len(got) != 2 {
		t.Fatalf("Decode = %d, %d entries, %v", gen, len(got), err)
	}
	if !bytes.Equal(Encode(gen, got), b) {
		t.Fatal("re-encoding differs")
	}
	// Two keys differing only in birth time are two files (a reused inode).
	k := Key{ID: durable.FileID{Dev: 1, Ino: 2, Birth: 3}, Size: int64(cs) + 7, MtimeNs: 4, ChunkSize: cs}
	other := k
	other.ID.Birth = 8
	if _, ok := got[k]; !ok {
		t.Fatal("key with birth time lost")
	}
	if _, ok := got[other]; ok {
		t.Fatal("a reused inode (other birth time) matches")
	}
}

func TestDecodeRefuses(t *testing.T) {
	t.Parallel()
	valid := Encode(1, sample())
	firstEntry := headerSize
	testCases := []struct {
		name string
		b    []byte
		old  bool
	}{
		{"empty", nil, false},
		{"truncated", valid[:len(valid)-1], false},
		{"server format 1", append([]byte("SNAPDC01"), valid[8:]...), true},
		{"follower format 1", append([]byte("SNAPFC01"), valid[8:]...), true},
		{"bad seal", append(append([]byte{}, valid[:len(valid)-1]...), valid[len(valid)-1]^1), false},
		{"trailing", reseal(append(append([]byte{}, valid...), 0)), false},
		{"too many entries", seal(binary.BigEndian.AppendUint32(append([]byte{}, valid[:16]...), 1<<30)), false},
		{"no identity", func() []byte {
			b := append([]byte{}, valid...)
			copy(b[firstEntry:], make([]byte, 24))
			return reseal(b)
		}(), false},
		{"bad shape", func() []byte {
			b := append([]byte{}, valid...)
			binary.BigEndian.PutUint64(b[firstEntry+24:], 5) // the first entry's size
			return reseal(b)
		}(), false},
		{"out of order", func() []byte {
			b := append([]byte{}, valid...)
			binary.BigEndian.PutUint64(b[firstEntry+8:], 9) // first inode after the second's
			return reseal(b)
		}(), false},
	}
	for _, tc := range testCases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, _, err := Decode(tc.b, 64)
			t.Log(err)
			if !errors.Is(err, ErrBad) || errors.Is(err, ErrOldFormat) != tc.old {
				t.Fatalf("Decode = %v, want ErrBad (old format: %v)", err, tc.old)
			}
		})
	}
	if _, _, err := Decode(valid, 1); !errors.Is(err, ErrBad) {
		t.Fatalf("Decode over the chunk bound = %v, want ErrBad", err)
	}
}

func TestMaxEncodedSize(t *testing.T) {
	t.Parallel()
	entries := make(map[Key]*Entry)
	for i := range 8 {
		entries[Key{ID: durable.FileID{Dev: 1, Ino: uint64(i + 1)}, Size: 1, ChunkSize: cs}] = &Entry{
			Chunks: []verify.Chunk{{Length: 1}}}
	}
	if n := int64(len(Encode(1, entries))); n > MaxEncodedSize(8) {
		t.Fatalf("8 one-chunk entries take %d bytes, MaxEncodedSize(8) = %d", n, MaxEncodedSize(8))
	}
}

// FuzzDecodeDigestCache: a cache file is read back from disk, so whatever
// bytes it holds, Decode never panics, stays within its chunk bound, and what
// it accepts encodes back to the same bytes.
func FuzzDecodeDigestCache(f *testing.F) {
	valid := Encode(7, sample())
	f.Add(valid)
	f.Add(Encode(0, nil))
	f.Add(valid[:len(valid)-1])
	f.Add([]byte(magic))
	f.Fuzz(func(t *testing.T, b []byte) {
		gen, entries, err := Decode(b, 64)
		if err != nil {
			return
		}
		n := 0
		for _, e := range entries {
			n += len(e.Chunks)
		}
		if n > 64 {
			t.Fatalf("%d chunks decoded, bound 64", n)
		}
		if got := Encode(gen, entries); !bytes.Equal(got, b) {
			t.Fatal("accepted bytes do not encode back the same")
		}
	})
}

// BenchmarkDecode decodes the cache of a 1 GiB DB in 1 MiB chunks.
func BenchmarkDecode(b *testing.B) {
	entries := make(map[Key]*Entry)
	for i := range 256 {
		cs := make([]verify.Chunk, 4)
		for j := range cs {
			cs[j].Length = 1 << 20
		}
		entries[Key{ID: durable.FileID{Dev: 1, Ino: uint64(i + 1)}, Size: 4 << 20, ChunkSize: 1 << 20}] = &Entry{Chunks: cs}
	}
	enc := Encode(0, entries)
	b.SetBytes(int64(len(enc)))
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := Decode(enc, 4<<20); err != nil {
			b.Fatal(err)
		}
	}
}
