package rpccodec

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	snapsyncv1 "github.com/snapsync/snapsync/proto/gen/snapsync/v1"
	"github.com/snapsync/snapsync/proto/gen/snapsync/v1/snapsyncv1connect"
)

// envelope frames payload as Connect does: flags, length, payload.
func envelope(flags byte, payload []byte) []byte {
	b := []byte{flags, 0, 0, 0, 0}
	binary.BigEndian.PutUint32(b[1:], uint32(len(payload)))
	return append(b, payload...)
}

// received is one envelope as a Connect reader sees it: its flags and
// payload, and what Take said after it.
type received struct {
	flags    byte
	payload  []byte
	diverted int
	took     bool
}

// maxTestEnvelope is readEnvelopes' limit on an envelope's length.
const maxTestEnvelope = 4 << 20

var errTooLarge = errors.New("envelope too large")

// readEnvelopes reads r as Connect's envelope reader does (a 5-byte
// prefix, then exactly its length), aiming d at a fresh buffer of aim bytes
// before each envelope (none when aim < 0) and taking after.
func readEnvelopes(r io.Reader, d *Direct, aim int) ([]received, [][]byte, error) {
	var out []received
	var bufs [][]byte
	for {
		buf := make([]byte, 0, max(aim, 0))
		if d != nil && aim >= 0 {
			d.Aim(buf)
		}
		var prefix [envelopePrefix]byte
		_, err := io.ReadFull(r, prefix[:])
		var e received
		if size := binary.BigEndian.Uint32(prefix[1:]); err == nil && size > maxTestEnvelope {
			err = errTooLarge // Connect's read limit
		} else if err == nil {
			e.flags = prefix[0]
			e.payload = make([]byte, size)
			_, err = io.ReadFull(r, e.payload)
		}
		if d != nil {
			e.diverted, e.took = d.Take()
		}
		if errors.Is(err, io.EOF) && e.payload == nil {
			return out, bufs, nil
		}
		if err != nil {
			return out, bufs, err
		}
		out = append(out, e)
		bufs = append(bufs, buf)
	}
}

// checkEquivalent reads stream raw and through a Direct aimed at buffers of
// aim bytes, and fails unless Connect would decode the same messages from
// both and stop with the same kind of error.
func checkEquivalent(t *testing.T, stream []byte, aim int) (diverted int) {
	t.Helper()
	want, _, wantErr := readEnvelopes(bytes.NewReader(stream), nil, aim)
	d := new(Direct)
	body := &directBody{body: io.NopCloser(bytes.NewReader(stream)), d: d}
	got, bufs, gotErr := readEnvelopes(body, d, aim)
	if (wantErr == nil) != (gotErr == nil) {
		t.Fatalf("error %v through Direct, %v raw", gotErr, wantErr)
	}
	if len(got) != len(want) {
		t.Fatalf("%d envelopes through Direct, %d raw", len(got), len(want))
	}
	var c Codec
	for i := range want {
		g, w := got[i], want[i]
		if g.flags != w.flags {
			t.Fatalf("envelope %d: flags %#x, want %#x", i, g.flags, w.flags)
		}
		if !g.took {
			if !bytes.Equal(g.payload, w.payload) {
				t.Fatalf("envelope %d passed through changed", i)
			}
			continue
		}
		diverted++
		if w.flags != 0 {
			t.Fatalf("envelope %d with flags %#x diverted", i, w.flags)
		}
		wm, gm := new(snapsyncv1.FetchChunksResponse), new(snapsyncv1.FetchChunksResponse)
		if err := c.Unmarshal(w.payload, wm); err != nil {
			t.Fatalf("envelope %d diverted, but it does not decode: %v", i, err)
		}
		if err := c.Unmarshal(g.payload, gm); err != nil {
			t.Fatalf("envelope %d: the rest does not decode: %v", i, err)
		}
		if len(gm.Data) > 0 {
			t.Fatalf("envelope %d: Data left in what Connect sees", i)
		}
		gm.Data = bufs[i][:g.diverted]
		if !proto.Equal(gm, wm) || !bytes.Equal(gm.Data, wm.Data) {
			t.Fatalf("envelope %d: diverted %v, want %v", i, gm, wm)
		}
	}
	return diverted
}

func TestDirect(t *testing.T) {
	t.Parallel()
	chunk := func(fi, ci uint32, enc snapsyncv1.Encoding, data []byte) []byte {
		return mustMarshal(t, chunkMsg(fi, ci, enc, data))
	}
	big := bytes.Repeat([]byte("0123456789abcdef"), 8192) // 128 KiB
	dataFirst := protowire.AppendVarint(protowire.AppendTag(
		protowire.AppendBytes(protowire.AppendTag(nil, fieldData, protowire.BytesType), big), fieldFileIndex, protowire.VarintType), 3)
	reordered := protowire.AppendBytes(protowire.AppendTag(
		protowire.AppendVarint(protowire.AppendTag(
			protowire.AppendVarint(protowire.AppendTag(nil, fieldEncoding, protowire.VarintType), 1), fieldChunkIndex, protowire.VarintType), 9),
		fieldData, protowire.BytesType), big)
	unknown := protowire.AppendBytes(protowire.AppendTag(
		protowire.AppendVarint(protowire.AppendTag(nil, 9, protowire.VarintType), 1), fieldData, protowire.BytesType), big)
	endStream := envelope(2, []byte(`{"error":{"code":"internal","message":"x"}}`))
	tests := []struct {
		name     string
		stream   []byte
		aim      int
		diverted int
	}{
		{"raw chunks", concat(envelope(0, chunk(1, 2, 0, big)), envelope(0, chunk(4, 5, 1, big[:100]))), 1 << 20, 2},
		{"then end of stream", concat(envelope(0, chunk(1, 0, 0, big)), endStream), 1 << 20, 1},
		{"chunk 0 of file 0 (no varint fields)", envelope(0, chunk(0, 0, 0, big)), 1 << 20, 1},
		{"fields in another order", envelope(0, reordered), 1 << 20, 1},
		{"empty data", envelope(0, chunk(1, 1, 0, nil)), 1 << 20, 0},
		{"one byte of data", envelope(0, chunk(1, 1, 0, []byte{7})), 1 << 20, 1},
		{"data exactly the buffer", envelope(0, chunk(1, 1, 0, big)), len(big), 1},
		{"data larger than the buffer", envelope(0, chunk(1, 1, 0, big)), len(big) - 1, 0},
		{"nothing aimed", envelope(0, chunk(1, 1, 0, big)), -1, 0},
		{"data not last", envelope(0, dataFirst), 1 << 20, 0},
		{"unknown field first", envelope(0, unknown), 1 << 20, 0},
		{"compressed envelope", envelope(1, chunk(1, 1, 0, big)), 1 << 20, 0},
		{"empty envelope", envelope(0, nil), 1 << 20, 0},
		{"empty body", nil, 1 << 20, 0},
		{"cut in the prefix", envelope(0, chunk(1, 1, 0, big))[:3], 1 << 20, 0},
		{"cut in the head", envelope(0, chunk(1, 1, 0, big))[:8], 1 << 20, 0},
		{"cut in the data", envelope(0, chunk(1, 1, 0, big))[:5000], 1 << 20, 0},
		{"cut after a whole chunk", concat(envelope(0, chunk(1, 1, 0, big)), envelope(0, chunk(1, 2, 0, big))[:100]), 1 << 20, 1},
		{"length larger than the data", concat(envelope(0, chunk(1, 1, 0, big))[:5], chunk(1, 1, 0, big)[:len(big)/2]), 1 << 20, 0},
		{"data length overruns the envelope", envelope(0, chunk(1, 1, 0, big)[:1000]), 1 << 20, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := checkEquivalent(t, tt.stream, tt.aim); got != tt.diverted {
				t.Fatalf("%d envelopes diverted, want %d", got, tt.diverted)
			}
		})
	}
}

func concat(b ...[]byte) []byte { return bytes.Join(b, nil) }

func FuzzDirect(f *testing.F) {
	data := bytes.Repeat([]byte{0xa5}, 300)
	for _, m := range []*snapsyncv1.FetchChunksResponse{chunkMsg(1, 2, 0, data), chunkMsg(0, 0, 1, data[:3]), chunkMsg(7, 0, 0, nil)} {
		wire := mustMarshal(f, m)
		f.Add(envelope(0, wire), 512)
		f.Add(concat(envelope(0, wire), envelope(2, []byte("{}"))), 100)
		e := envelope(0, wire)
		f.Add(e[:min(len(e), 20)], 512)
	}
	f.Fuzz(func(t *testing.T, stream []byte, aim int) {
		checkEquivalent(t, stream, aim%(1<<16))
	})
}

// chunkServer streams FetchChunksResponse messages as the server does.
type chunkServer struct {
	snapsyncv1connect.UnimplementedSnapshotServiceHandler
	msgs []*snapsyncv1.FetchChunksResponse
}

func (s chunkServer) FetchChunks(_ context.Context, _ *connect.Request[snapsyncv1.FetchChunksRequest],
	st *connect.ServerStream[snapsyncv1.FetchChunksResponse]) error {
	for _, m := range s.msgs {
		if err := st.Send(m); err != nil {
			return err
		}
	}
	return connect.NewError(connect.CodeDataLoss, errors.New("the end"))
}

// TestDirectConnect streams chunks from a real Connect server to a Connect
// client through a DirectTransport: each chunk lands in the buffer it was
// aimed at, and the stream's error still arrives.
func TestDirectConnect(t *testing.T) {
	t.Parallel()
	msgs := []*snapsyncv1.FetchChunksResponse{
		chunkMsg(0, 0, 0, bytes.Repeat([]byte{1}, 1<<20)),
		chunkMsg(3, 1, 1, bytes.Repeat([]byte{2}, 4000)),
		chunkMsg(3, 2, 0, nil),
	}
	mux := http.NewServeMux()
	mux.Handle(snapsyncv1connect.NewSnapshotServiceHandler(chunkServer{msgs: msgs}, connect.WithCodec(Codec{})))
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	hc := &http.Client{Transport: DirectTransport{Base: http.DefaultTransport}}
	rpc := snapsyncv1connect.NewSnapshotServiceClient(hc, srv.URL, connect.WithCodec(Codec{}),
		connect.WithAcceptCompression("gzip", nil, nil)) // as the client: Connect compresses nothing
	d := new(Direct)
	stream, err := rpc.FetchChunks(WithDirect(context.Background(), d), connect.NewRequest(&snapsyncv1.FetchChunksRequest{}))
	if err != nil {
		t.Fatal(err)
	}
	defer stream.Close()
	conn, err := stream.Conn()
	if err != nil {
		t.Fatal(err)
	}
	for i, want := range msgs {
		buf := make([]byte, 0, 2<<20)
		m := &snapsyncv1.FetchChunksResponse{Data: buf}
		d.Aim(buf)
		err := conn.Receive(m)
		n, took := d.Take()
		if err != nil {
			t.Fatalf("message %d: %v", i, err)
		}
		if took {
			m.Data = buf[:n]
		}
		if wantTook := len(want.Data) > 0; took != wantTook {
			t.Fatalf("message %d diverted %v, want %v", i, took, wantTook)
		}
		if !proto.Equal(m, want) {
			t.Fatalf("message %d = %v, want %v", i, m, want)
		}
	}
	err = conn.Receive(new(snapsyncv1.FetchChunksResponse))
	if connect.CodeOf(err) != connect.CodeDataLoss {
		t.Fatalf("end of stream: %v, want the server's data_loss", err)
	}
}
