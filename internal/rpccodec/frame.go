package rpccodec

import (
	"fmt"
	"io"
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
}

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
func (f *ChunkFrame) read(dst []byte) error {
	n, err := f.From.ReadAt(dst, f.Offset)
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
	if err := f.read(b[at:]); err != nil {
		return nil, err
	}
	return b, nil
}
