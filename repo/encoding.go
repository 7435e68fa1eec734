package repo

import (
	"fmt"
	"runtime"

	"github.com/snapsync/snapsync/internal/wire"

	"github.com/klauspost/compress/zstd"

	"github.com/snapsync/snapsync/verify"
)

// A stored chunk is one encoding byte followed by the payload: the raw bytes,
// or a single zstd frame that declares the chunk's length as its content size.
const (
	encRaw  byte = 0
	encZstd byte = 1
)

// codec compresses and decompresses chunks; both halves are safe for
// concurrent use (EncodeAll and DecodeAll).
type codec struct {
	enc *zstd.Encoder
	dec *zstd.Decoder
	// sampled decides on a sample (format 2); format 1 compresses every
	// chunk whole, as it always did.
	sampled bool
}

// newCodec returns a codec whose decoder never holds more than
// verify.MaxChunkSize of output or window, whatever a stored frame claims.
func newCodec() (*codec, error) {
	enc, err := zstd.NewWriter(nil,
		zstd.WithEncoderLevel(zstd.SpeedFastest),
		zstd.WithEncoderConcurrency(runtime.GOMAXPROCS(0)),
	)
	if err != nil {
		return nil, fmt.Errorf("zstd encoder: %w", err)
	}
	dec, err := zstd.NewReader(nil,
		zstd.WithDecoderConcurrency(runtime.GOMAXPROCS(0)),
		zstd.WithDecoderMaxMemory(verify.MaxChunkSize),
		zstd.WithDecoderMaxWindow(verify.MaxChunkSize),
	)
	if err != nil {
		return nil, fmt.Errorf("zstd decoder: %w", err)
	}
	return &codec{enc: enc, dec: dec}, nil
}

// encode returns the stored form of data behind head bytes of room, with
// room for tail bytes more in its capacity (for a cipher's nonce and tag,
// so that sealing copies nothing): zstd when it saves at least an eighth,
// raw otherwise (already-compressed SSTs are stored as they are). A frame
// decode would refuse is stored raw too: the encoder leaves out the content
// size of an input under 256 bytes, and may declare a window larger than a
// small input.
func (c *codec) encode(data []byte, head, tail int) []byte {
	if c.sampled {
		if at, n, ok := wire.Sample(len(data)); ok {
			// Most chunks of a database are incompressible (blocks its
			// engine compressed already): a sample from the middle that
			// does not compress spares the whole chunk's compression, as
			// on the peer path (server/fetch.go).
			if z := c.enc.EncodeAll(data[at:at+n], nil); len(z) > n-n/8 {
				return stored(encRaw, data, head, tail)
			}
		}
	}
	z := c.enc.EncodeAll(data, stored(encZstd, nil, head, len(data)+tail))
	if len(z)-head-1 <= len(data)-len(data)/8 && checkFrame(z[head+1:], uint32(len(data))) == nil {
		return z
	}
	return stored(encRaw, data, head, tail)
}

// stored returns head bytes of room, the encoding byte enc and payload,
// with room for tail bytes more.
func stored(enc byte, payload []byte, head, tail int) []byte {
	b := make([]byte, head+1, head+1+len(payload)+tail)
	b[head] = enc
	return append(b, payload...)
}

// decode returns the raw bytes of a stored chunk that must be exactly length
// bytes long (at most verify.MaxChunkSize). A zstd frame must declare that
// length and a window no larger before anything is decoded. The bytes are not
// yet verified: the caller hashes them.
func (c *codec) decode(b []byte, length uint32) ([]byte, error) {
	if length > verify.MaxChunkSize {
		return nil, fmt.Errorf("length %d over the limit %d", length, verify.MaxChunkSize)
	}
	if len(b) == 0 {
		return nil, fmt.Errorf("empty object")
	}
	switch b[0] {
	case encRaw:
		if len(b)-1 != int(length) {
			return nil, fmt.Errorf("raw chunk of %d bytes, want %d", len(b)-1, length)
		}
		return b[1:], nil
	case encZstd:
		return c.unzstd(b[1:], length)
	}
	return nil, fmt.Errorf("unknown encoding %d", b[0])
}

// checkFrame refuses a zstd frame that does not declare length bytes, or
// declares a window larger than they need.
func checkFrame(z []byte, length uint32) error {
	var h zstd.Header
	if err := h.Decode(z); err != nil {
		return fmt.Errorf("zstd header: %v", err)
	}
	if !h.HasFCS || h.FrameContentSize != uint64(length) {
		return fmt.Errorf("zstd frame does not declare %d bytes", length)
	}
	if h.WindowSize > uint64(max(length, zstd.MinWindowSize)) {
		return fmt.Errorf("zstd window %d over the chunk's length %d", h.WindowSize, length)
	}
	return nil
}

func (c *codec) unzstd(z []byte, length uint32) ([]byte, error) {
	if err := checkFrame(z, length); err != nil {
		return nil, err
	}
	out, err := c.dec.DecodeAll(z, make([]byte, 0, length))
	if err != nil {
		return nil, fmt.Errorf("zstd: %v", err)
	}
	if len(out) != int(length) {
		return nil, fmt.Errorf("zstd chunk decodes to %d bytes, want %d", len(out), length)
	}
	return out, nil
}
