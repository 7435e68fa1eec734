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
		ch, _, err := c.Next()
		if errors.Is(err, io.EOF) {
			return chunks, total, nil
		}
		if err != nil {
			return nil, 0, err
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
