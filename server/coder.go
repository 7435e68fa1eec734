package server

import (
	"fmt"
	"io"
	"time"

	"github.com/klauspost/compress/zstd"

	"github.com/snapsync/snapsync/internal/wire"
	"github.com/snapsync/snapsync/verify"
)

// coder compresses the chunks of one stream, FetchChunks's or
// FetchByDigest's: the chooser's verdict, the frame cache shared by every
// stream of the server, an encoder and its buffers from the server's pools.
type coder struct {
	choose *chooser
	peers  *peerMemory // nil: none
	peer   string      // the client's address, for peers
	frames *frameCache // nil: none
	bufs   *bufferPools
	enc    *zstd.Encoder // nil when mode is CompressionNone
	raw    *[]byte
	out    *[]byte
}

// newCoder takes a chunk buffer of chunkSize bytes (and, unless mode is
// CompressionNone, an encoder and a frame buffer) from bufs; close gives
// them back. Its chooser starts from what peers remembers of peer's host,
// and close leaves there what it learnt.
func newCoder(bufs *bufferPools, frames *frameCache, peers *peerMemory, peer string, mode Compression, chunkSize int) (coder, error) {
	c := coder{choose: newChooser(mode), peers: peers, peer: peer, frames: frames, bufs: bufs, raw: bufs.buf(chunkSize)}
	if mode != CompressionNone {
		enc, err := bufs.encoder()
		if err != nil {
			bufs.putBuf(c.raw)
			return coder{}, fmt.Errorf("zstd encoder: %w", err)
		}
		c.enc, c.out = enc, bufs.buf(frameBound(chunkSize))
	}
	peers.seed(peer, c.choose)
	return c, nil
}

func (c *coder) close() {
	c.peers.keep(c.peer, c.choose)
	c.bufs.putBuf(c.raw)
	if c.enc != nil {
		c.bufs.putBuf(c.out)
		c.bufs.putEncoder(c.enc)
	}
}

// code makes chunk d, n bytes at off of from, a zstd frame where it pays
// (zstd is true; the frame is shared or the coder's, valid until the next
// call); otherwise data is the raw bytes where it had to read them all, or
// nil. The caller asked the chooser already (choose.try). A frame another
// stream made for the same content (by digest) is reused from the frame
// cache.
func (c *coder) code(d verify.Digest, from io.ReaderAt, off int64, n int) (data []byte, zstd bool, err error) {
	if frame, ok := c.frames.get(d); ok {
		if frame == nil {
			c.choose.cached(n, n)
			return nil, false, nil
		}
		c.choose.cached(n, len(frame))
		return frame, true, nil
	}
	start := time.Now()
	if at, sn, ok := wire.Sample(n); ok {
		// Most chunks of a database are incompressible (blocks its engine
		// compressed already): a sample that does not compress spares the
		// whole chunk's compression, and its copy.
		sample := (*c.raw)[:sn]
		if _, err := from.ReadAt(sample, off+int64(at)); err != nil {
			return nil, false, err
		}
		*c.out = c.enc.EncodeAll(sample, (*c.out)[:0])
		if !pays(sn, len(*c.out)) {
			c.choose.compressed(sn, len(*c.out), time.Since(start))
			c.frames.put(d, nil)
			return nil, false, nil
		}
		start = time.Now()
	}
	buf := (*c.raw)[:n]
	if _, err := from.ReadAt(buf, off); err != nil {
		return nil, false, err
	}
	*c.out = c.enc.EncodeAll(buf, (*c.out)[:0])
	c.choose.compressed(len(buf), len(*c.out), time.Since(start))
	if !pays(len(buf), len(*c.out)) {
		c.frames.put(d, nil)
		return buf, false, nil // read already: sent from the buffer
	}
	c.frames.put(d, *c.out)
	return *c.out, true, nil
}
