package server

import (
	"sync"

	"github.com/klauspost/compress/zstd"
)

// bufferPools recycle what a stream needs per chunk: a raw buffer, a buffer
// for its zstd frame, and an encoder. Their number is bounded by MaxStreams,
// so memory is chunk size times streams (docs/DESIGN.md invariant 5).
type bufferPools struct {
	bufs     sync.Pool // *[]byte
	encoders sync.Pool // *zstd.Encoder
	window   int       // the encoders' window: set by New from the chunk size
}

// buf returns a buffer of at least n bytes.
func (p *bufferPools) buf(n int) *[]byte {
	if b, ok := p.bufs.Get().(*[]byte); ok && cap(*b) >= n {
		return b
	}
	b := make([]byte, n)
	return &b
}

func (p *bufferPools) putBuf(b *[]byte) { p.bufs.Put(b) }

// encoder returns a single-threaded zstd encoder at its fastest level. Its
// window covers one chunk, which is all a frame ever holds: the default
// window (8 MiB) would cost 4x a 1 MiB chunk's memory in history per encoder.
func (p *bufferPools) encoder() (*zstd.Encoder, error) {
	if e, ok := p.encoders.Get().(*zstd.Encoder); ok {
		return e, nil
	}
	opts := []zstd.EOption{zstd.WithEncoderLevel(zstd.SpeedFastest), zstd.WithEncoderConcurrency(1)}
	if p.window > 0 {
		opts = append(opts, zstd.WithWindowSize(p.window))
	}
	return zstd.NewWriter(nil, opts...)
}

// windowFor is the smallest valid zstd window covering a chunk of n bytes.
func windowFor(n int) int {
	w := zstd.MinWindowSize
	for w < n && w < zstd.MaxWindowSize {
		w *= 2
	}
	return w
}

func (p *bufferPools) putEncoder(e *zstd.Encoder) { p.encoders.Put(e) }

// frameBound is room for a zstd frame of n input bytes, even incompressible.
func frameBound(n int) int { return n + n/128 + 1024 }
