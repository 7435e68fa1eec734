package rpccodec

import (
	"bytes"
	"testing"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	snapsyncv1 "github.com/snapsync/snapsync/proto/gen/snapsync/v1"
)

func chunkMsg(fi, ci uint32, enc snapsyncv1.Encoding, data []byte) *snapsyncv1.FetchChunksResponse {
	return &snapsyncv1.FetchChunksResponse{FileIndex: fi, ChunkIndex: ci, Encoding: enc, Data: data}
}

func TestUnmarshalChunk(t *testing.T) {
	big := bytes.Repeat([]byte("abcdefgh"), 1<<17)
	withUnknown := protowire.AppendVarint(protowire.AppendTag(mustMarshal(t, chunkMsg(1, 2, 0, []byte("x"))), 9, protowire.VarintType), 7)
	tests := []struct {
		name string
		wire []byte
		fast bool // decoded by the fast path
	}{
		{"raw chunk", mustMarshal(t, chunkMsg(3, 7, snapsyncv1.Encoding_ENCODING_RAW, big)), true},
		{"zstd chunk", mustMarshal(t, chunkMsg(0, 0, snapsyncv1.Encoding_ENCODING_ZSTD, []byte{1, 2, 3})), true},
		{"empty message", nil, true},
		{"empty data", mustMarshal(t, chunkMsg(5, 1, 0, nil)), true},
		{"unknown field", withUnknown, false},
		{"unknown encoding value", mustMarshal(t, chunkMsg(1, 1, snapsyncv1.Encoding(99), []byte("y"))), true},
		{"truncated data", mustMarshal(t, chunkMsg(1, 1, 0, []byte("hello")))[:6], false},
		{"file index as bytes", protowire.AppendBytes(protowire.AppendTag(nil, fieldFileIndex, protowire.BytesType), []byte("z")), false},
		{"data twice: last wins", append(mustMarshal(t, chunkMsg(0, 0, 0, []byte("first"))), mustMarshal(t, chunkMsg(0, 0, 0, []byte("second")))...), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var fast snapsyncv1.FetchChunksResponse
			fast.Data = make([]byte, 3, 1<<20) // a reused buffer
			if got := unmarshalChunk(tt.wire, &fast); got != tt.fast {
				t.Fatalf("fast path = %v, want %v", got, tt.fast)
			}
			checkSame(t, tt.wire)
		})
	}
}

func TestUnmarshalReusesData(t *testing.T) {
	var c Codec
	m := new(snapsyncv1.FetchChunksResponse)
	wire := mustMarshal(t, chunkMsg(1, 2, 0, bytes.Repeat([]byte{7}, 4096)))
	if err := c.Unmarshal(wire, m); err != nil {
		t.Fatal(err)
	}
	first := &m.Data[0]
	wire2 := mustMarshal(t, chunkMsg(1, 3, 0, bytes.Repeat([]byte{8}, 4000)))
	if err := c.Unmarshal(wire2, m); err != nil {
		t.Fatal(err)
	}
	if &m.Data[0] != first {
		t.Fatal("Data was reallocated for a smaller chunk")
	}
	wire2[len(wire2)-1] = 0 // the codec must not retain its input
	if m.Data[len(m.Data)-1] != 8 || m.ChunkIndex != 3 || len(m.Data) != 4000 {
		t.Fatalf("decoded %d bytes, chunk %d, last byte %d", len(m.Data), m.ChunkIndex, m.Data[len(m.Data)-1])
	}
	if n := testing.AllocsPerRun(100, func() { _ = c.Unmarshal(wire2, m) }); n != 0 {
		t.Fatalf("%v allocations a message, want 0", n)
	}
}

func TestMarshalRoundTrip(t *testing.T) {
	var c Codec
	in := chunkMsg(4, 5, snapsyncv1.Encoding_ENCODING_ZSTD, []byte("frame"))
	b, err := c.MarshalAppend([]byte("prefix"), in)
	if err != nil {
		t.Fatal(err)
	}
	out := new(snapsyncv1.FetchChunksResponse)
	if err := c.Unmarshal(b[len("prefix"):], out); err != nil {
		t.Fatal(err)
	}
	if !proto.Equal(in, out) {
		t.Fatalf("round trip: %v, want %v", out, in)
	}
	if _, err := c.Marshal(42); err == nil {
		t.Fatal("marshalled a non-message")
	}
	if err := c.Unmarshal(nil, new(int)); err == nil {
		t.Fatal("unmarshalled into a non-message")
	}
}

// FuzzUnmarshal checks that the codec decodes every input exactly as
// proto.Unmarshal does: same message, same failure.
func FuzzUnmarshal(f *testing.F) {
	f.Add([]byte{})
	f.Add(mustMarshal(f, chunkMsg(1, 2, snapsyncv1.Encoding_ENCODING_ZSTD, []byte("data"))))
	f.Add([]byte{0x22, 0x05, 'a'})
	f.Add([]byte{0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01})
	f.Fuzz(func(t *testing.T, wire []byte) {
		checkSame(t, wire)
	})
}

// checkSame decodes wire with the codec (into a message holding a reused
// buffer) and with proto.Unmarshal, and compares.
func checkSame(t *testing.T, wire []byte) {
	t.Helper()
	var c Codec
	got := chunkMsg(9, 9, 1, make([]byte, 5, 64))
	gotErr := c.Unmarshal(wire, got)
	want := new(snapsyncv1.FetchChunksResponse)
	wantErr := proto.Unmarshal(wire, want)
	if (gotErr != nil) != (wantErr != nil) {
		t.Fatalf("codec error %v, proto error %v", gotErr, wantErr)
	}
	if wantErr == nil && !proto.Equal(got, want) {
		t.Fatalf("codec decoded %v, proto %v", got, want)
	}
}

func mustMarshal(tb testing.TB, m proto.Message) []byte {
	tb.Helper()
	b, err := proto.Marshal(m)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

func TestChunkFrameEncoding(t *testing.T) {
	file := bytes.NewReader([]byte("0123456789abcdef"))
	tests := []struct {
		name  string
		frame ChunkFrame
		want  *snapsyncv1.FetchChunksResponse
	}{
		{"from a file", ChunkFrame{FileIndex: 3, ChunkIndex: 9, Encoding: snapsyncv1.Encoding_ENCODING_RAW, From: file, Offset: 4, Len: 6},
			chunkMsg(3, 9, snapsyncv1.Encoding_ENCODING_RAW, []byte("456789"))},
		{"data", ChunkFrame{FileIndex: 1, Encoding: snapsyncv1.Encoding_ENCODING_ZSTD, Data: []byte("frame")},
			chunkMsg(1, 0, snapsyncv1.Encoding_ENCODING_ZSTD, []byte("frame"))},
		{"all zero", ChunkFrame{From: file, Len: 0}, chunkMsg(0, 0, 0, nil)},
		{"large indexes", ChunkFrame{FileIndex: 1 << 31, ChunkIndex: 1<<32 - 1, From: file, Len: 16},
			chunkMsg(1<<31, 1<<32-1, 0, []byte("0123456789abcdef"))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Codec{}.MarshalAppend([]byte("pre"), &tt.frame)
			if err != nil {
				t.Fatal(err)
			}
			want := append([]byte("pre"), mustMarshal(t, tt.want)...)
			if !bytes.Equal(got, want) {
				t.Fatalf("encoded %x, proto.Marshal %x", got, want)
			}
			msg, err := tt.frame.Message(nil)
			if err != nil {
				t.Fatal(err)
			}
			if !proto.Equal(msg, tt.want) {
				t.Fatalf("Message() = %v, want %v", msg, tt.want)
			}
		})
	}
}

func TestChunkFrameShortFile(t *testing.T) {
	f := &ChunkFrame{From: bytes.NewReader([]byte("short")), Offset: 2, Len: 8}
	if _, err := (Codec{}).MarshalAppend(nil, f); err == nil {
		t.Fatal("marshalled a chunk past the end of its file")
	}
	if f.ReadErr == nil {
		t.Fatal("ReadErr not set")
	}
	if _, err := (Codec{}).Marshal(&ChunkFrame{}); err == nil {
		t.Fatal("marshalled a frame with neither data nor a file")
	}
}
