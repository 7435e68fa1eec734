package server

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/snapsync/snapsync/internal/rpccodec"
	snapsyncv1 "github.com/snapsync/snapsync/proto/gen/snapsync/v1"
	"github.com/snapsync/snapsync/verify"
)

// Chunks starts a FetchChunks stream of the checkpoint: it takes one of
// the server's MaxStreams slots, keeps the request's lease (if any)
// renewed while it runs, and reads each chunk from the server's own copy of
// a file the manifest lists (docs/DESIGN.md invariant 3), sent raw or as
// one zstd frame.
func (ls *liveSnapshot) Chunks(ctx context.Context, req *snapsyncv1.FetchChunksRequest, peer string, send func(any) error, direct bool) (ChunkSender, error) {
	s, start := ls.s, time.Now()
	select {
	case s.streams <- struct{}{}:
	default:
		return nil, fmt.Errorf("%w: %d running", ErrTooManyStreams, s.cfg.MaxStreams)
	}
	stopRenew := func() {}
	if lid := req.GetLeaseId(); lid != "" {
		var err error
		if stopRenew, err = s.keepLease(ctx, lid, ls.e); err != nil {
			<-s.streams
			return nil, err
		}
	}
	cs, err := s.newChunkStream(ls.e, s.compressionFor(req.GetCompression()), peer, send, direct)
	if err != nil {
		stopRenew()
		<-s.streams
		return nil, err
	}
	cs.start, cs.stopRenew = start, stopRenew
	if direct && !s.noSplice.Load() {
		cs.splice = spliceFor(ctx)
	}
	return cs, nil
}

// Done logs what the stream sent and gives back what it held.
func (cs *chunkStream) Done(err error) {
	cs.close()
	cs.stopRenew()
	<-cs.s.streams
	cs.s.log.Info().Err(err).Str("snapshot", cs.e.id.Short()).
		Stringer("compression", cs.choose.mode).Int("chunks", cs.chunks).Int("zstd_chunks", cs.zchunks).
		Int64("bytes", cs.read).Int64("wire_bytes", cs.sent).Int64("spliced_bytes", cs.spliced).Dur("duration", time.Since(cs.start)).Msg("chunks sent")
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

var _ ChunkSender = (*chunkStream)(nil)

// chunkStream reads, encodes and sends the chunks of one request.
type chunkStream struct {
	s      *Server
	e      *entry
	send   func(any) error
	direct bool        // the stream's codec is rpccodec's: raw chunks go from the file into the send buffer
	splice *spliceConn // set when direct over plaintext HTTP/1.1: raw chunks' tails go by sendfile (splice.go)
	coder
	f     *os.File // the open file, of manifest index fi
	man   *os.File // the manifest's encoding, opened for the first digest needed
	fi    int
	frame rpccodec.ChunkFrame

	start     time.Time
	stopRenew func()

	chunks, zchunks     int
	read, sent, spliced int64
}

func (s *Server) newChunkStream(e *entry, mode Compression, peer string, send func(any) error, direct bool) (*chunkStream, error) {
	c, err := newCoder(&s.bufs, s.frames, s.peers, peer, mode, int(e.lay.chunkSize))
	if err != nil {
		return nil, err
	}
	return &chunkStream{s: s, e: e, send: send, direct: direct, coder: c, fi: -1}, nil
}

func (cs *chunkStream) close() {
	if cs.f != nil {
		cs.f.Close() // read-only: nothing to lose
	}
	if cs.man != nil {
		cs.man.Close() // read-only: nothing to lose
	}
	cs.coder.close()
}

// Send sends chunk j of file fi, which starts at off.
func (cs *chunkStream) Send(ctx context.Context, fi, j int, off int64) error {
	f, err := cs.open(fi)
	if err != nil {
		return err
	}
	length := cs.e.lay.length(fi, j)
	cs.frame = rpccodec.ChunkFrame{FileIndex: uint32(fi), ChunkIndex: uint32(j), Encoding: snapsyncv1.Encoding_ENCODING_RAW,
		From: f, Offset: off, Len: length}
	if err := cs.encode(&cs.frame, fi, j); err != nil {
		return cs.readError(fi, j, err)
	}
	wire := cs.frame.Len
	if cs.frame.Data != nil {
		wire = len(cs.frame.Data)
	}
	start := time.Now()
	if l := cs.s.limiter; l != nil {
		if err := l.WaitN(ctx, wire); err != nil {
			return fmt.Errorf("rate limit: %w", err)
		}
		if waited := time.Since(start); waited > time.Millisecond { // below: the call itself
			cs.s.cfg.Metrics.RateLimitWait(waited)
		}
	}
	if err := cs.sendFrame(); err != nil {
		if cs.frame.ReadErr != nil {
			return cs.readError(fi, j, cs.frame.ReadErr)
		}
		return fmt.Errorf("send chunk %d of %q: %w", j, cs.e.lay.path(fi), err)
	}
	cs.choose.sent(wire, time.Since(start))
	cs.count(length, wire, cs.frame.Encoding)
	return nil
}

// sendFrame sends cs.frame: as it is with rpccodec (its tail by sendfile
// when the stream splices: splice.go), else as a message whose data is read
// into the stream's buffer first.
func (cs *chunkStream) sendFrame() error {
	if cs.direct {
		if cs.splice == nil {
			return cs.send(&cs.frame)
		}
		cs.frame.Splice = cs.splice
		err := cs.send(&cs.frame)
		n, serr := cs.splice.settle(err)
		cs.spliced += int64(n)
		cs.s.counters.bytesSpliced.Add(int64(n))
		cs.s.cfg.Metrics.Spliced(n)
		switch {
		case serr == nil:
		case errors.Is(serr, errSpliceMisfire):
			if !cs.s.noSplice.Swap(true) {
				cs.s.log.Error().Err(serr).Msg("chunks are no longer sent by sendfile")
			}
		case errors.Is(serr, io.ErrUnexpectedEOF): // sendFile: the file ended early
			cs.frame.ReadErr = serr // a file that shrank: Send reports ErrChanged
		}
		if err == nil {
			err = serr
		}
		return err
	}
	msg, err := cs.frame.Message(*cs.raw)
	if err != nil {
		return err
	}
	return cs.send(msg)
}

// readError describes a failed read of chunk j of file fi; a file that
// shrank breaks the checkpoint.
func (cs *chunkStream) readError(fi, j int, err error) error {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		cs.s.catalog.markBroken(cs.e)
		err = fmt.Errorf("%w: %s shrank", ErrChanged, cs.e.lay.path(fi))
	}
	return fmt.Errorf("read chunk %d of %q: %w", j, cs.e.lay.path(fi), err)
}

// encode makes fr (chunk j of file fi) a zstd frame where the chooser
// wants one and it pays (coder.code); otherwise it stays raw, to be read
// from the file as it is sent.
func (cs *chunkStream) encode(fr *rpccodec.ChunkFrame, fi, j int) error {
	if !cs.choose.try(cs.fi) {
		return nil
	}
	d, err := cs.digest(fi, j)
	if err != nil {
		return err
	}
	data, zstd, err := cs.code(d, fr.From, fr.Offset, fr.Len)
	if err != nil {
		return err
	}
	fr.Data = data
	if zstd {
		fr.Encoding = snapsyncv1.Encoding_ENCODING_ZSTD
	}
	return nil
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

// digest reads the digest of chunk j of file fi from the manifest on disk.
func (cs *chunkStream) digest(fi, j int) (verify.Digest, error) {
	if cs.man == nil {
		f, err := os.Open(cs.s.catalog.manifestPath(cs.e.id))
		if err != nil {
			return verify.Digest{}, fmt.Errorf("%w: open manifest: %w", ErrDataLoss, err)
		}
		cs.man = f
	}
	return cs.e.lay.digest(cs.man, fi, j)
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
	path := filepath.Join(cs.e.dir, filepath.FromSlash(cs.e.lay.path(fi)))
	f, err := openNoFollow(path)
	if err != nil {
		cs.s.catalog.markBroken(cs.e)
		return nil, fmt.Errorf("%w: %w", ErrChanged, err)
	}
	if err := checkUnchanged(f, cs.e.lay.stats.at(fi)); err != nil {
		f.Close()
		cs.s.catalog.markBroken(cs.e)
		return nil, err
	}
	cs.f, cs.fi = f, fi
	return f, nil
}
