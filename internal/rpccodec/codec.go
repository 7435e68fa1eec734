// Package rpccodec is Connect's binary protobuf codec with fast paths for the
// one message that carries bulk data, FetchChunksResponse: the server sends a
// ChunkFrame, whose chunk is read from its file straight into the send
// buffer, and the client decodes into the message's own Data buffer, reused
// across the messages of a stream, instead of into a new allocation per
// chunk. A Direct (direct.go) goes one step further on the client: it reads
// a chunk's bytes from the connection straight into that buffer.
package rpccodec

import (
	"errors"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	snapsyncv1 "github.com/snapsync/snapsync/proto/gen/snapsync/v1"
)

// Codec is registered under Connect's name for binary protobuf, "proto", so
// it replaces the default codec on both sides of a connection it is given to;
// what it puts on the wire is the same.
type Codec struct{}

// Name is "proto".
func (Codec) Name() string { return "proto" }

// Marshal encodes m, a proto.Message.
func (c Codec) Marshal(m any) ([]byte, error) { return c.MarshalAppend(nil, m) }

// MarshalAppend appends m's encoding to b. A *ChunkFrame's data is read
// into b directly.
func (Codec) MarshalAppend(b []byte, m any) ([]byte, error) {
	if f, ok := m.(*ChunkFrame); ok {
		return appendFrame(b, f)
	}
	pm, ok := m.(proto.Message)
	if !ok {
		return nil, errNotProto
	}
	return proto.MarshalOptions{}.MarshalAppend(b, pm)
}

// Unmarshal decodes b into m, a proto.Message. A FetchChunksResponse keeps
// its Data's capacity: the chunk bytes are copied into it, and b is not
// retained.
func (Codec) Unmarshal(b []byte, m any) error {
	if c, ok := m.(*snapsyncv1.FetchChunksResponse); ok && unmarshalChunk(b, c) {
		return nil
	}
	pm, ok := m.(proto.Message)
	if !ok {
		return errNotProto
	}
	return proto.Unmarshal(b, pm)
}

var errNotProto = errors.New("rpccodec: not a protobuf message")

// The field numbers of FetchChunksResponse.
const (
	fieldFileIndex  = 1
	fieldChunkIndex = 2
	fieldEncoding   = 3
	fieldData       = 4
)

// unmarshalChunk decodes b into m when b holds only m's four fields, each
// with its own wire type; anything else (unknown fields, other wire types,
// malformed input) reports false and is left to proto.Unmarshal, so the
// result and the errors are always proto.Unmarshal's.
func unmarshalChunk(b []byte, m *snapsyncv1.FetchChunksResponse) bool {
	var fileIndex, chunkIndex uint32
	var encoding snapsyncv1.Encoding
	var data []byte
	seenData := false
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return false
		}
		b = b[n:]
		switch {
		case num == fieldData && typ == protowire.BytesType:
			v, n := protowire.ConsumeBytes(b)
			if n < 0 {
				return false
			}
			data, seenData = v, true
			b = b[n:]
		case (num == fieldFileIndex || num == fieldChunkIndex || num == fieldEncoding) && typ == protowire.VarintType:
			v, n := protowire.ConsumeVarint(b)
			if n < 0 {
				return false
			}
			switch num {
			case fieldFileIndex:
				fileIndex = uint32(v)
			case fieldChunkIndex:
				chunkIndex = uint32(v)
			default:
				encoding = snapsyncv1.Encoding(int32(v))
			}
			b = b[n:]
		default:
			return false
		}
	}
	m.FileIndex, m.ChunkIndex, m.Encoding = fileIndex, chunkIndex, encoding
	if seenData {
		m.Data = append(m.Data[:0], data...)
	} else {
		m.Data = m.Data[:0]
	}
	return true
}
