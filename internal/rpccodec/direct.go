package rpccodec

import (
	"context"
	"encoding/binary"
	"errors"
	"io"
	"net/http"

	"google.golang.org/protobuf/encoding/protowire"
)

// Direct receive: a FetchChunks response body read through a Direct puts
// each chunk's bytes straight into the buffer its caller aimed it at, not
// into Connect's envelope buffer first. Without it a chunk is copied by the
// kernel into the envelope buffer, then by Unmarshal into the message's own
// (aligned, for direct I/O) buffer; and every stream's envelope buffer grows,
// doubling, to the size of a chunk. Measured here the second copy and that
// growth were about a tenth of an install's client CPU.
//
// The Direct sits between the HTTP body and Connect (docs/DESIGN.md, "How an
// install runs", Fetch). It reads the Connect envelopes (a flags byte, a
// big-endian length, the message) as they come. An envelope it can
// divert is an uncompressed data message (flags 0) whose encoding is the
// fields FileIndex, ChunkIndex and Encoding as varints, in any order, and
// then Data, its last field, no longer than the aimed buffer. Its Data bytes
// are read into that buffer; Connect is given the same envelope without the
// Data field; and Take, after the Receive, returns their length. Every
// other envelope (end of stream, compressed, another shape, nothing aimed)
// is passed through byte for byte, so Connect sees what the server sent and
// reports the same errors. The chunk is hashed after, as any other: a bug
// here costs a digest mismatch, never a wrong byte.

// Direct is one FetchChunks call's diverter. Aim and Take are called by the
// goroutine that calls Receive, around each Receive, and the body is read in
// between by that Receive (Connect reads a response body in the goroutine
// that receives), so it takes no lock: were the body ever read elsewhere,
// the order Aim, read, Take would not hold anyway, and the race detector
// (go test -race) would name it.
type Direct struct {
	target   []byte // where the next divertable envelope's Data goes; nil: none
	diverted int    // the length of the Data the last envelope put into target
	took     bool   // whether the last envelope was diverted
}

// Aim sets where the Data of the next envelope goes: buf[:cap(buf)].
func (d *Direct) Aim(buf []byte) {
	d.target, d.took = buf[:cap(buf)], false
}

// Take reports whether the envelope read since Aim was diverted, and the
// length of its Data in the aimed buffer. The aim is spent either way.
func (d *Direct) Take() (int, bool) {
	n, ok := d.diverted, d.took
	d.target, d.diverted, d.took = nil, 0, false
	return n, ok
}

// divert gives the aimed buffer for Data of n bytes, or nil.
func (d *Direct) divert(n int) []byte {
	if d.target == nil || n > len(d.target) {
		return nil
	}
	return d.target[:n]
}

// done records that the envelope's Data, n bytes, is in the target.
func (d *Direct) done(n int) {
	d.diverted, d.took, d.target = n, true, nil
}

type directKey struct{}

// WithDirect returns ctx carrying d: the response body of a request made
// with it is read through d when it goes through a DirectTransport.
func WithDirect(ctx context.Context, d *Direct) context.Context {
	return context.WithValue(ctx, directKey{}, d)
}

// DirectTransport reads the body of a successful response through the
// Direct its request's context carries, if any.
type DirectTransport struct {
	Base http.RoundTripper
}

// RoundTrip sends req on Base.
func (t DirectTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	res, err := t.Base.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	if d, ok := req.Context().Value(directKey{}).(*Direct); ok && res.StatusCode == http.StatusOK {
		res.Body = &directBody{body: res.Body, d: d}
	}
	return res, nil
}

// CloseIdleConnections closes Base's idle connections, if it keeps any.
func (t DirectTransport) CloseIdleConnections() {
	if c, ok := t.Base.(interface{ CloseIdleConnections() }); ok {
		c.CloseIdleConnections()
	}
}

// envelopePrefix is a Connect envelope's prefix: flags, then the message's
// length, big-endian.
const envelopePrefix = 5

// maxHead bounds the fields before Data: three varint fields (a tag byte
// and at most 10 bytes each) and Data's tag and length.
const maxHead = 3*(1+binary.MaxVarintLen64) + 1 + binary.MaxVarintLen64

// directBody is a response body read through a Direct.
type directBody struct {
	body    io.ReadCloser
	d       *Direct
	out     []byte // bytes for Connect before any more are read from body
	outBuf  [envelopePrefix + maxHead]byte
	through int64 // bytes of the current envelope still to pass through
}

func (b *directBody) Close() error { return b.body.Close() }

func (b *directBody) Read(p []byte) (int, error) {
	if len(b.out) == 0 && b.through == 0 {
		if err := b.next(); err != nil {
			return 0, err
		}
	}
	if len(b.out) > 0 {
		n := copy(p, b.out)
		b.out = b.out[n:]
		return n, nil
	}
	if int64(len(p)) > b.through {
		p = p[:b.through]
	}
	n, err := b.body.Read(p)
	b.through -= int64(n)
	if errors.Is(err, io.EOF) && b.through > 0 {
		err = io.ErrUnexpectedEOF
	}
	return n, err
}

// next reads the next envelope's prefix and head, and either diverts its
// Data or sets it up to pass through. It returns io.EOF at the end of the
// body between envelopes.
func (b *directBody) next() error {
	buf := b.outBuf[:]
	if _, err := io.ReadFull(b.body, buf[:envelopePrefix]); err != nil {
		return err // io.EOF between envelopes: Connect decides whether that is an end
	}
	flags, size := buf[0], int64(binary.BigEndian.Uint32(buf[1:envelopePrefix]))
	if flags != 0 || size == 0 {
		b.out, b.through = buf[:envelopePrefix], size
		return nil
	}
	head := min(size, int64(maxHead))
	if _, err := io.ReadFull(b.body, buf[envelopePrefix:envelopePrefix+head]); err != nil {
		return unexpected(err)
	}
	fields, dataAt, dataLen, ok := parseHead(buf[envelopePrefix : envelopePrefix+head])
	var dst []byte
	if ok && int64(dataAt)+dataLen == size {
		dst = b.d.divert(int(dataLen))
	}
	if dst == nil {
		b.out, b.through = buf[:envelopePrefix+head], size-head
		return nil
	}
	got := copy(dst, buf[envelopePrefix+dataAt:envelopePrefix+head])
	if _, err := io.ReadFull(b.body, dst[got:]); err != nil {
		return unexpected(err)
	}
	b.d.done(len(dst))
	binary.BigEndian.PutUint32(buf[1:envelopePrefix], uint32(fields))
	b.out, b.through = buf[:envelopePrefix+fields], 0
	return nil
}

// unexpected is err, an end of the body inside an envelope, as
// io.ErrUnexpectedEOF.
func unexpected(err error) error {
	if errors.Is(err, io.EOF) {
		return io.ErrUnexpectedEOF
	}
	return err
}

// parseHead parses the start of a FetchChunksResponse encoding: varint
// fields 1 to 3, then Data's tag and length. fields is the length of the
// varint fields, dataAt where Data's bytes start, dataLen their length; ok
// is false for anything else, or when Data does not start within head.
func parseHead(head []byte) (fields, dataAt int, dataLen int64, ok bool) {
	at := 0
	for at < len(head) {
		num, typ, n := protowire.ConsumeTag(head[at:])
		if n < 0 {
			return 0, 0, 0, false
		}
		switch {
		case (num == fieldFileIndex || num == fieldChunkIndex || num == fieldEncoding) && typ == protowire.VarintType:
			_, m := protowire.ConsumeVarint(head[at+n:])
			if m < 0 {
				return 0, 0, 0, false
			}
			at += n + m
		case num == fieldData && typ == protowire.BytesType:
			v, m := protowire.ConsumeVarint(head[at+n:])
			if m < 0 || v > 1<<31 {
				return 0, 0, 0, false
			}
			return at, at + n + m, int64(v), true
		default:
			return 0, 0, 0, false
		}
	}
	return 0, 0, 0, false
}
