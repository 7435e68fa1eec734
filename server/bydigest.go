package server

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"time"

	"connectrpc.com/connect"
	"golang.org/x/time/rate"

	"github.com/snapsync/snapsync/auth"
	"github.com/snapsync/snapsync/metrics"
	snapsyncv1 "github.com/snapsync/snapsync/proto/gen/snapsync/v1"
	"github.com/snapsync/snapsync/verify"
)

// MaxDigestsPerRequest caps the digests of one HasChunks or FetchByDigest
// request (snapshot.proto).
const MaxDigestsPerRequest = 4096

// ErrNoChunk is a store's answer for a chunk it cannot send by digest now:
// one it does not hold, or whose bytes no longer hash to the digest (a file
// changed since it was indexed). FetchByDigest leaves it out of its stream.
var ErrNoChunk = errors.New("server: no such chunk")

// sending is what the FetchByDigest streams of one handler share: a
// Server's own pools, frame cache, stream slots and byte rate limit, or,
// over another store, the handler's.
type sending struct {
	bufs      *bufferPools
	frames    *frameCache   // nil: none
	peers     *peerMemory   // nil: none
	limiter   *rate.Limiter // nil: unlimited
	streams   chan struct{} // one slot a stream
	mode      Compression   // for COMPRESSION_UNSPECIFIED
	chunkSize int           // the size of a stream's buffers; a larger chunk grows them
	metrics   *metrics.Metrics
}

// parseDigests checks a request's digests: at most MaxDigestsPerRequest,
// each exactly 32 bytes.
func parseDigests(bs [][]byte) ([]verify.Digest, error) {
	if len(bs) > MaxDigestsPerRequest {
		return nil, fmt.Errorf("%w: %d digests, at most %d", ErrBadRequest, len(bs), MaxDigestsPerRequest)
	}
	ds := make([]verify.Digest, len(bs))
	for i, b := range bs {
		d, err := verify.DigestFromBytes(b)
		if err != nil {
			return nil, fmt.Errorf("%w: digests[%d]: %w", ErrBadRequest, i, err)
		}
		ds[i] = d
	}
	return ds, nil
}

// HasChunks tells which of the request's digests the store could send
// now: a hint, with no lease taken.
func (h *handler) HasChunks(ctx context.Context, req *connect.Request[snapsyncv1.HasChunksRequest]) (*connect.Response[snapsyncv1.HasChunksResponse], error) {
	ds, err := parseDigests(req.Msg.GetDigests())
	if err != nil {
		return nil, err
	}
	have := h.st.HasChunks(ctx, ds)
	bits := make([]byte, (len(ds)+7)/8)
	hits := 0
	for i, ok := range have {
		if ok {
			bits[i/8] |= 1 << (i % 8)
			hits++
		}
	}
	h.metrics.HasChunks(len(ds), hits)
	h.log.Debug().Str("peer", req.Peer().Addr).Str("identity", auth.IdentityFrom(ctx)).Str("client", req.Msg.GetClient()).
		Int("digests", len(ds)).Int("have", hits).Msg("has chunks")
	return connect.NewResponse(&snapsyncv1.HasChunksResponse{Have: bits}), nil
}

// FetchByDigest streams the chunks the request names that the store can
// read now, in its order, each hashed again as it was read (Store.ReadChunk)
// and compressed as FetchChunks compresses. It takes one of the stream
// slots FetchChunks takes.
func (h *handler) FetchByDigest(ctx context.Context, req *connect.Request[snapsyncv1.FetchByDigestRequest], stream *connect.ServerStream[snapsyncv1.FetchByDigestResponse]) error {
	ds, err := parseDigests(req.Msg.GetDigests())
	if err != nil {
		return err
	}
	sd := h.sending
	select {
	case sd.streams <- struct{}{}:
	default:
		return fmt.Errorf("%w: %d running", ErrTooManyStreams, cap(sd.streams))
	}
	defer func() { <-sd.streams }()
	st, err := h.newDigestStream(req.Msg.GetCompression(), req.Peer().Addr, stream.Send)
	if err != nil {
		return err
	}
	defer st.close()
	start := time.Now()
	err = st.sendAll(ctx, ds)
	h.log.Info().Err(err).Str("peer", req.Peer().Addr).Str("identity", auth.IdentityFrom(ctx)).
		Int("asked", len(ds)).Int("chunks", st.chunks).Int("missed", st.missed).
		Int64("bytes", st.read).Int64("wire_bytes", st.sent).Dur("duration", time.Since(start)).Msg("chunks sent by digest")
	return err
}

// digestStream reads, encodes and sends the chunks of one FetchByDigest
// request.
type digestStream struct {
	coder
	h    *handler
	send func(*snapsyncv1.FetchByDigestResponse) error
	data *[]byte // the chunk as read
	msg  snapsyncv1.FetchByDigestResponse

	chunks, missed int
	read, sent     int64
}

func (h *handler) newDigestStream(c snapsyncv1.Compression, peer string, send func(*snapsyncv1.FetchByDigestResponse) error) (*digestStream, error) {
	sd := h.sending
	mode := sd.mode
	if c != snapsyncv1.Compression_COMPRESSION_UNSPECIFIED {
		mode = c
	}
	cd, err := newCoder(sd.bufs, sd.frames, sd.peers, peer, mode, sd.chunkSize)
	if err != nil {
		return nil, err
	}
	return &digestStream{coder: cd, h: h, send: send, data: sd.bufs.buf(sd.chunkSize)}, nil
}

func (s *digestStream) close() {
	s.coder.close()
	s.h.sending.bufs.putBuf(s.data)
}

// sendAll sends each chunk of ds the store can read, in order.
func (s *digestStream) sendAll(ctx context.Context, ds []verify.Digest) error {
	for i, d := range ds {
		if err := ctx.Err(); err != nil {
			return context.Cause(ctx)
		}
		data, err := s.h.st.ReadChunk(ctx, d, (*s.data)[:0])
		if errors.Is(err, ErrNoChunk) {
			s.missed++
			continue
		}
		if err != nil {
			return fmt.Errorf("read chunk %s: %w", d.Short(), err)
		}
		if cap(data) > cap(*s.data) {
			*s.data = data // grown: keep it for the next chunk
		}
		if err := s.sendOne(ctx, uint32(i), d, data); err != nil {
			return err
		}
	}
	return nil
}

// sendOne sends chunk d, the request's i-th, whose bytes are verified.
func (s *digestStream) sendOne(ctx context.Context, i uint32, d verify.Digest, data []byte) error {
	s.msg = snapsyncv1.FetchByDigestResponse{Index: i, Encoding: snapsyncv1.Encoding_ENCODING_RAW, Data: data}
	if cap(*s.raw) < len(data) { // a chunk larger than the store's chunk size
		*s.raw = make([]byte, len(data))
	}
	// Each chunk counts as a file of its own for the chooser: chunks named
	// by digest come from anywhere, so a run of poor ones says little.
	if s.choose.try(int(i)) {
		frame, zstd, err := s.code(d, bytes.NewReader(data), 0, len(data))
		if err != nil {
			return fmt.Errorf("compress chunk %s: %w", d.Short(), err)
		}
		if zstd {
			s.msg.Data, s.msg.Encoding = frame, snapsyncv1.Encoding_ENCODING_ZSTD
		}
	}
	wire := len(s.msg.Data)
	start := time.Now()
	if l := s.h.sending.limiter; l != nil {
		if err := l.WaitN(ctx, wire); err != nil {
			return fmt.Errorf("rate limit: %w", err)
		}
		if waited := time.Since(start); waited > time.Millisecond {
			s.h.sending.metrics.RateLimitWait(waited)
		}
	}
	if err := s.send(&s.msg); err != nil {
		return fmt.Errorf("send chunk %s: %w", d.Short(), err)
	}
	s.choose.sent(wire, time.Since(start))
	zstd := s.msg.Encoding == snapsyncv1.Encoding_ENCODING_ZSTD
	s.h.sending.metrics.ChunkSentByDigest(len(data), wire, zstd)
	s.chunks++
	s.read += int64(len(data))
	s.sent += int64(wire)
	return nil
}
