package chunker

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/snapsync/snapsync/verify"
)

// DefaultChunkSize is the chunk size servers use unless configured: large
// enough to amortise per-message costs, small enough that chunk size times
// concurrency stays a few tens of MiB.
const DefaultChunkSize = 1 << 20

// Chunker reads fixed-size chunks from a reader.
type Chunker struct {
	r    io.Reader
	buf  []byte
	done bool
}

// New returns a Chunker that reads chunkSize-byte chunks from r; the last
// chunk may be shorter. chunkSize must be within the manifest's limits.
func New(r io.Reader, chunkSize int) (*Chunker, error) {
	if chunkSize < verify.MinChunkSize || chunkSize > verify.MaxChunkSize {
		return nil, fmt.Errorf("chunker: chunk size %d outside [%d, %d]", chunkSize, verify.MinChunkSize, verify.MaxChunkSize)
	}
	return &Chunker{r: r, buf: make([]byte, chunkSize)}, nil
}

// Next returns the next chunk and its bytes, or io.EOF after the last one.
// The bytes are valid until the next call.
func (c *Chunker) Next() (verify.Chunk, []byte, error) {
	if c.done {
		return verify.Chunk{}, nil, io.EOF
	}
	n, err := io.ReadFull(c.r, c.buf)
	switch {
	case errors.Is(err, io.EOF):
		c.done = true
		return verify.Chunk{}, nil, io.EOF
	case errors.Is(err, io.ErrUnexpectedEOF):
		c.done = true
	case err != nil:
		return verify.Chunk{}, nil, fmt.Errorf("chunker: read: %w", err)
	}
	b := c.buf[:n]
	return verify.Chunk{Length: uint32(n), Digest: verify.Sum(b)}, b, nil
}

// Digests returns the chunks of everything r yields and the total length.
func Digests(ctx context.Context, r io.Reader, chunkSize int) ([]verify.Chunk, int64, error) {
	return Each(ctx, r, chunkSize, nil)
}

// Each is Digests, handing each chunk with its bytes to fn (when not nil)
// as it is hashed: the bytes are valid during the call only. An error from
// fn ends the read.
func Each(ctx context.Context, r io.Reader, chunkSize int, fn func(c verify.Chunk, data []byte) error) ([]verify.Chunk, int64, error) {
	c, err := New(r, chunkSize)
	if err != nil {
		return nil, 0, err
	}
	var chunks []verify.Chunk
	var total int64
	for {
		if err := ctx.Err(); err != nil {
			return nil, 0, context.Cause(ctx)
		}
		ch, data, err := c.Next()
		if errors.Is(err, io.EOF) {
			return chunks, total, nil
		}
		if err != nil {
			return nil, 0, err
		}
		if fn != nil {
			if err := fn(ch, data); err != nil {
				return nil, 0, err
			}
		}
		chunks = append(chunks, ch)
		total += int64(ch.Length)
	}
}

// HashFile returns the chunks of the file at path and its length.
func HashFile(ctx context.Context, path string, chunkSize int) ([]verify.Chunk, int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, 0, fmt.Errorf("chunker: %w", err)
	}
	defer f.Close()
	chunks, n, err := Digests(ctx, f, chunkSize)
	if err != nil {
		return nil, 0, fmt.Errorf("chunker: %s: %w", path, err)
	}
	return chunks, n, nil
}

// Count is the number of chunks of a size-byte file: the last may be short,
// an empty file has none.
func Count(size int64, chunkSize int) int {
	return int((size + int64(chunkSize) - 1) / int64(chunkSize))
}

// HashAt hashes len(out) consecutive chunks of a size-byte file read
// through r, the first being chunk number first, into out; buf must hold a
// chunk. Every chunk but the file's last is chunkSize long. A file that
// ends before size is an error wrapping io.ErrUnexpectedEOF. Ranges of one
// file can be hashed by several goroutines at once, each with its own out
// and buf: that is how a large file is hashed on every core.
func HashAt(ctx context.Context, r io.ReaderAt, size int64, chunkSize, first int, out []verify.Chunk, buf []byte) error {
	if chunkSize < verify.MinChunkSize || chunkSize > verify.MaxChunkSize || len(buf) < chunkSize {
		return fmt.Errorf("chunker: chunk size %d outside [%d, %d] or buffer of %d", chunkSize, verify.MinChunkSize, verify.MaxChunkSize, len(buf))
	}
	if first < 0 || first+len(out) > Count(size, chunkSize) {
		return fmt.Errorf("chunker: chunks [%d, %d) outside the %d of %d bytes", first, first+len(out), Count(size, chunkSize), size)
	}
	for k := range out {
		if err := ctx.Err(); err != nil {
			return context.Cause(ctx)
		}
		off := int64(first+k) * int64(chunkSize)
		b := buf[:min(int64(chunkSize), size-off)]
		if n, err := r.ReadAt(b, off); n < len(b) {
			if err == nil || errors.Is(err, io.EOF) {
				err = io.ErrUnexpectedEOF
			}
			return fmt.Errorf("chunker: read at %d: %w", off, err)
		}
		out[k] = verify.Chunk{Length: uint32(len(b)), Digest: verify.Sum(b)}
	}
	return nil
}
