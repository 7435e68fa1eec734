package server

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"connectrpc.com/connect"
	"github.com/klauspost/compress/zstd"

	snapsyncv1 "github.com/snapsync/snapsync/proto/gen/snapsync/v1"
	"github.com/snapsync/snapsync/verify"
)

// fetch serves one FetchChunks request: the chunks it names, in its order,
// each read from the server's own copy of a file the manifest lists
// (invariant 3) and sent raw or as one zstd frame.
func (s *Server) fetch(ctx context.Context, req *connect.Request[snapsyncv1.FetchChunksRequest], send func(*snapsyncv1.FetchChunksResponse) error) error {
	start := time.Now()
	id, err := parseID(req.Msg.GetSnapshotId())
	if err != nil {
		return err
	}
	select {
	case s.streams <- struct{}{}:
		defer func() { <-s.streams }()
	default:
		return fmt.Errorf("%w: %d running", ErrTooManyStreams, s.cfg.MaxStreams)
	}
	e, err := s.catalog.acquire(id, s.cfg.Clock.Now())
	if err != nil {
		return err
	}
	defer func() { s.removeTrees(s.catalog.finish(e, s.cfg.Clock.Now())) }()
	if _, err := checkRanges(e.man, req.Msg.GetRanges(), s.cfg.MaxChunksPerRequest); err != nil {
		return err
	}
	ctx, stop := s.streamContext(ctx)
	defer stop()
	if lid := req.Msg.GetLeaseId(); lid != "" {
		stopRenew, err := s.keepLease(ctx, lid, e)
		if err != nil {
			return err
		}
		defer stopRenew()
	}
	cs, err := s.newChunkStream(e, s.compressionFor(req.Msg.GetCompression()), send)
	if err != nil {
		return err
	}
	defer cs.close()
	err = cs.run(ctx, req.Msg.GetRanges())
	s.log.Info().Err(err).Str("snapshot", id.Short()).Str("peer", req.Peer().Addr).
		Stringer("compression", cs.choose.mode).Int("chunks", cs.chunks).Int("zstd_chunks", cs.zchunks).
		Int64("bytes", cs.read).Int64("wire_bytes", cs.sent).Dur("duration", time.Since(start)).Msg("chunks sent")
	return err
}

// compressionFor resolves what the client asked for.
func (s *Server) compressionFor(c snapsyncv1.Compression) Compression {
	switch c {
	case snapsyncv1.Compression_COMPRESSION_NONE:
		return CompressionNone
	case snapsyncv1.Compression_COMPRESSION_ZSTD:
		return CompressionZstd
	}
	return s.cfg.Compression
}

// streamContext ends a stream when its request ends or the server closes.
func (s *Server) streamContext(ctx context.Context) (context.Context, func()) {
	ctx, cancel := context.WithCancelCause(ctx)
	stop := context.AfterFunc(s.ctx, func() { cancel(ErrClosed) })
	return ctx, func() { stop(); cancel(nil) }
}

// keepLease renews lease lid, which must hold e, now and every third of its
// TTL until ctx ends or the returned stop is called.
func (s *Server) keepLease(ctx context.Context, lid string, e *entry) (func(), error) {
	l, err := s.catalog.renew(lid, e, 0, s.cfg.Clock.Now())
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		t := s.cfg.Clock.NewTicker(max(l.ttl/3, time.Millisecond))
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.Chan():
				if _, err := s.catalog.renew(lid, e, 0, s.cfg.Clock.Now()); err != nil {
					s.log.Warn().Err(err).Str("snapshot", e.id.Short()).Msg("renew lease during stream")
					return
				}
			}
		}
	}()
	return func() { cancel(); <-done }, nil
}

// chunkStream reads, encodes and sends the chunks of one request.
type chunkStream struct {
	s      *Server
	e      *entry
	send   func(*snapsyncv1.FetchChunksResponse) error
	choose *chooser
	enc    *zstd.Encoder
	raw    *[]byte
	out    *[]byte
	f      *os.File // the open file, of manifest index fi
	fi     int
	msg    snapsyncv1.FetchChunksResponse

	chunks, zchunks int
	read, sent      int64
}

func (s *Server) newChunkStream(e *entry, mode Compression, send func(*snapsyncv1.FetchChunksResponse) error) (*chunkStream, error) {
	cs := &chunkStream{s: s, e: e, send: send, choose: newChooser(mode), fi: -1}
	cs.raw = s.bufs.buf(int(e.man.ChunkSize))
	if mode != CompressionNone {
		enc, err := s.bufs.encoder()
		if err != nil {
			s.bufs.putBuf(cs.raw)
			return nil, fmt.Errorf("zstd encoder: %w", err)
		}
		cs.enc, cs.out = enc, s.bufs.buf(frameBound(int(e.man.ChunkSize)))
	}
	return cs, nil
}

func (cs *chunkStream) close() {
	if cs.f != nil {
		cs.f.Close() // read-only: nothing to lose
	}
	cs.s.bufs.putBuf(cs.raw)
	if cs.enc != nil {
		cs.s.bufs.putBuf(cs.out)
		cs.s.bufs.putEncoder(cs.enc)
	}
}

func (cs *chunkStream) run(ctx context.Context, ranges []*snapsyncv1.ChunkRange) error {
	for _, r := range ranges {
		fi, first := int(r.GetFileIndex()), int(r.GetFirstChunk())
		chunks := cs.e.man.Files[fi].Chunks
		var off int64
		for _, c := range chunks[:first] {
			off += int64(c.Length)
		}
		for j := first; j < first+int(r.GetChunkCount()); j++ {
			if err := ctx.Err(); err != nil {
				return context.Cause(ctx)
			}
			if err := cs.chunk(ctx, fi, j, off); err != nil {
				return err
			}
			off += int64(chunks[j].Length)
		}
	}
	return nil
}

// chunk sends chunk j of file fi, which starts at off.
func (cs *chunkStream) chunk(ctx context.Context, fi, j int, off int64) error {
	f, err := cs.open(fi)
	if err != nil {
		return err
	}
	buf := (*cs.raw)[:cs.e.man.Files[fi].Chunks[j].Length]
	if _, err := f.ReadAt(buf, off); err != nil {
		if errors.Is(err, io.EOF) {
			cs.s.catalog.markBroken(cs.e)
			err = fmt.Errorf("%w: %s shrank", ErrChanged, cs.e.man.Files[fi].Path)
		}
		return fmt.Errorf("read chunk %d of %q: %w", j, cs.e.man.Files[fi].Path, err)
	}
	data, encoding := cs.encode(buf, cs.e.man.Files[fi].Chunks[j].Digest)
	start := time.Now()
	if l := cs.s.limiter; l != nil {
		if err := l.WaitN(ctx, len(data)); err != nil {
			return fmt.Errorf("rate limit: %w", err)
		}
		if waited := time.Since(start); waited > time.Millisecond { // below: the call itself
			cs.s.cfg.Metrics.RateLimitWait(waited)
		}
	}
	cs.msg.FileIndex, cs.msg.ChunkIndex, cs.msg.Encoding, cs.msg.Data = uint32(fi), uint32(j), encoding, data
	if err := cs.send(&cs.msg); err != nil {
		return fmt.Errorf("send chunk %d of %q: %w", j, cs.e.man.Files[fi].Path, err)
	}
	cs.choose.sent(len(data), time.Since(start))
	cs.count(len(buf), len(data), encoding)
	return nil
}

// encode returns buf (whose digest is d) as a zstd frame where the chooser
// wants one and it pays, else buf itself. A frame another stream made for
// the same content is reused from the server's frame cache.
func (cs *chunkStream) encode(buf []byte, d verify.Digest) ([]byte, snapsyncv1.Encoding) {
	if !cs.choose.try(cs.fi) {
		return buf, snapsyncv1.Encoding_ENCODING_RAW
	}
	if frame, ok := cs.s.frames.get(d); ok {
		if frame == nil {
			cs.choose.cached(len(buf), len(buf))
			return buf, snapsyncv1.Encoding_ENCODING_RAW
		}
		cs.choose.cached(len(buf), len(frame))
		return frame, snapsyncv1.Encoding_ENCODING_ZSTD
	}
	start := time.Now()
	if sample, ok := sampleOf(buf); ok {
		// Most chunks of a database are incompressible (blocks its engine
		// compressed already): a sample that does not compress spares the
		// whole chunk's compression.
		*cs.out = cs.enc.EncodeAll(sample, (*cs.out)[:0])
		if !pays(len(sample), len(*cs.out)) {
			cs.choose.compressed(len(sample), len(*cs.out), time.Since(start))
			cs.s.frames.put(d, nil)
			return buf, snapsyncv1.Encoding_ENCODING_RAW
		}
		start = time.Now()
	}
	*cs.out = cs.enc.EncodeAll(buf, (*cs.out)[:0])
	cs.choose.compressed(len(buf), len(*cs.out), time.Since(start))
	if !pays(len(buf), len(*cs.out)) {
		cs.s.frames.put(d, nil)
		return buf, snapsyncv1.Encoding_ENCODING_RAW
	}
	cs.s.frames.put(d, *cs.out)
	return *cs.out, snapsyncv1.Encoding_ENCODING_ZSTD
}

func (cs *chunkStream) count(raw, wire int, encoding snapsyncv1.Encoding) {
	cs.chunks++
	cs.read += int64(raw)
	cs.sent += int64(wire)
	c := &cs.s.counters
	if encoding == snapsyncv1.Encoding_ENCODING_ZSTD {
		cs.zchunks++
		c.chunksZstd.Add(1)
	} else {
		c.chunksRaw.Add(1)
	}
	c.bytesRead.Add(int64(raw))
	c.bytesSent.Add(int64(wire))
	cs.s.cfg.Metrics.ChunkSent(raw, wire, encoding == snapsyncv1.Encoding_ENCODING_ZSTD)
}

// open returns file fi, opened by the server's own path and checked to be
// the file the manifest was built from (same inode, size and mtime).
func (cs *chunkStream) open(fi int) (*os.File, error) {
	if cs.fi == fi {
		return cs.f, nil
	}
	if cs.f != nil {
		cs.f.Close() // read-only: nothing to lose
		cs.f, cs.fi = nil, -1
	}
	path := filepath.Join(cs.e.dir, filepath.FromSlash(cs.e.man.Files[fi].Path))
	f, err := openNoFollow(path)
	if err != nil {
		cs.s.catalog.markBroken(cs.e)
		return nil, fmt.Errorf("%w: %w", ErrChanged, err)
	}
	if err := checkUnchanged(f, cs.e.stats[fi]); err != nil {
		f.Close()
		cs.s.catalog.markBroken(cs.e)
		return nil, err
	}
	cs.f, cs.fi = f, fi
	return f, nil
}
