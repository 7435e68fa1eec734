package rpccodec

import (
	"fmt"
	"io"
	"os"
	"slices"

	"google.golang.org/protobuf/encoding/protowire"

	snapsyncv1 "github.com/snapsync/snapsync/proto/gen/snapsync/v1"
)

// ChunkFrame is a FetchChunksResponse the codec encodes without a copy of
// the chunk in between: its bytes are read from a file straight into the
// buffer the message is sent from. The encoding is byte for byte
// proto.Marshal's of the equivalent FetchChunksResponse.
type ChunkFrame struct {
	FileIndex, ChunkIndex uint32
	Encoding              snapsyncv1.Encoding
	// Data, when not nil, is the chunk as sent (a zstd frame, say).
	Data []byte
	// Otherwise Len bytes are read from From at Offset.
	From   io.ReaderAt
	Offset int64
	Len    int
	// ReadErr is set when reading From failed the marshalling: the sender
	// reports it rather than the marshal error Connect makes of it.
	ReadErr error
	// Splice, when set and From is an *os.File, sends the chunk's tail
	// from the file itself: see Splicer.
	Splice Splicer
}

// A Splicer sends a chunk's tail from its file to the connection itself
// (sendfile), so the bytes never pass through the process. The codec reads
// the chunk's first SpliceHead bytes as usual and leaves the rest of the
// buffer it marshals into unread; Defer names that region, which the
// Splicer must see written to the connection in place, as one write that
// ends where the region ends. It is the sender's to check, once the message
// is sent, that it was.
type Splicer interface {
	Defer(region []byte, f *os.File, off int64)
}

// SpliceHead is what the codec reads of a spliced chunk: more than the
// HTTP/1.1 server copies through its buffers (2 KiB + 4 KiB) before it
// writes a large body in place. Chunks under twice as long are read whole.
const SpliceHead = 32 << 10

// Message returns f as a FetchChunksResponse, reading its data into buf
// (grown as needed), for codecs other than this one (JSON).
func (f *ChunkFrame) Message(buf []byte) (*snapsyncv1.FetchChunksResponse, error) {
	data := f.Data
	if data == nil {
		data = slices.Grow(buf[:0], f.Len)[:f.Len]
		if err := f.read(data); err != nil {
			return nil, err
		}
	}
	return &snapsyncv1.FetchChunksResponse{FileIndex: f.FileIndex, ChunkIndex: f.ChunkIndex, Encoding: f.Encoding, Data: data}, nil
}

func (f *ChunkFrame) size() int {
	if f.Data != nil {
		return len(f.Data)
	}
	return f.Len
}

// read fills dst from f.From at f.Offset, or fails and sets f.ReadErr.
func (f *ChunkFrame) read(dst []byte) error { return f.readN(dst, f.Offset) }

// readN fills dst from f.From at off, or fails and sets f.ReadErr.
func (f *ChunkFrame) readN(dst []byte, off int64) error {
	n, err := f.From.ReadAt(dst, off)
	if n == len(dst) {
		return nil // io.ReaderAt may report io.EOF with a full read at the end
	}
	if err == nil {
		err = io.ErrUnexpectedEOF
	}
	f.ReadErr = err
	return err
}

// appendFrame appends f's encoding to b: its fields in number order, zero
// values left out, as proto.Marshal writes them.
func appendFrame(b []byte, f *ChunkFrame) ([]byte, error) {
	if f.Data == nil && (f.From == nil || f.Len < 0) {
		return nil, fmt.Errorf("rpccodec: chunk frame with neither data nor a file")
	}
	for _, field := range []struct {
		num protowire.Number
		v   uint64
	}{{fieldFileIndex, uint64(f.FileIndex)}, {fieldChunkIndex, uint64(f.ChunkIndex)}, {fieldEncoding, uint64(int64(f.Encoding))}} {
		if field.v != 0 {
			b = protowire.AppendTag(b, field.num, protowire.VarintType)
			b = protowire.AppendVarint(b, field.v)
		}
	}
	n := f.size()
	if n == 0 {
		return b, nil
	}
	b = protowire.AppendTag(b, fieldData, protowire.BytesType)
	b = protowire.AppendVarint(b, uint64(n))
	if f.Data != nil {
		return append(b, f.Data...), nil
	}
	at := len(b)
	b = slices.Grow(b, n)[:at+n]
	if file, ok := f.From.(*os.File); ok && f.Splice != nil && n >= 2*SpliceHead {
		if err := f.readN(b[at:at+SpliceHead], f.Offset); err != nil {
			return nil, err
		}
		f.Splice.Defer(b[at+SpliceHead:], file, f.Offset+SpliceHead)
		return b, nil
	}
	if err := f.read(b[at:]); err != nil {
		return nil, err
	}
	return b, nil
}
