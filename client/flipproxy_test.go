package client

import (
	"bufio"
	"encoding/binary"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"google.golang.org/protobuf/encoding/protowire"
)

// flipProxy is a TCP proxy on 127.0.0.1 in front of an h2c server. It reads
// the server's HTTP/2 frames (or HTTP/1.1 responses: chunk streams), follows
// the Connect envelopes inside each stream's DATA frames (or body), and flips one bit in the middle of the chunk bytes of
// the FetchChunksResponse messages that corrupt selects (numbered from 0 in
// the order they pass, and told whether the message is zstd-encoded). Everything else passes unchanged, so the corruption
// reaches the client's verification and nothing else.
type flipProxy struct {
	url     string
	target  string
	corrupt func(n int64, zstd bool) bool
	chunks  atomic.Int64 // chunk messages seen
	zstd    atomic.Int64 // of them, zstd-encoded
	flipped atomic.Int64
}

func startFlipProxy(tb testing.TB, target string, corrupt func(n int64, zstd bool) bool) *flipProxy {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	p := &flipProxy{url: "http://" + ln.Addr().String(), target: strings.TrimPrefix(target, "http://"), corrupt: corrupt}
	var wg sync.WaitGroup
	var mu sync.Mutex
	var conns []net.Conn
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			wg.Add(1)
			go func() { defer wg.Done(); p.serve(c) }()
		}
	}()
	tb.Cleanup(func() {
		_ = ln.Close() // ends the accept loop
		mu.Lock()
		for _, c := range conns {
			_ = c.Close() // ends the connection's copies
		}
		mu.Unlock()
		wg.Wait()
	})
	return p
}

// serve forwards one connection: requests unchanged, responses frame by
// frame (HTTP/2) or chunk by chunk (HTTP/1.1, which chunk streams use).
func (p *flipProxy) serve(client net.Conn) {
	defer client.Close()
	srv, err := net.Dial("tcp", p.target)
	if err != nil {
		return
	}
	defer srv.Close()
	preface := make([]byte, 4)
	if _, err := io.ReadFull(client, preface); err != nil {
		return
	}
	if _, err := srv.Write(preface); err != nil {
		return
	}
	go func() {
		_, _ = io.Copy(srv, client) // ends when either side closes
		_ = srv.Close()
	}()
	if string(preface) == "PRI " {
		p.serveHTTP2(client, srv)
		return
	}
	p.serveHTTP1(client, bufio.NewReader(srv))
}

func (p *flipProxy) serveHTTP2(client, srv net.Conn) {
	streams := make(map[uint32]*envelopeScanner)
	hdr := make([]byte, 9)
	for {
		if _, err := io.ReadFull(srv, hdr); err != nil {
			return
		}
		n := int(hdr[0])<<16 | int(hdr[1])<<8 | int(hdr[2])
		typ, flags, id := hdr[3], hdr[4], binary.BigEndian.Uint32(hdr[5:])&0x7fffffff
		payload := make([]byte, n)
		if _, err := io.ReadFull(srv, payload); err != nil {
			return
		}
		const frameData, flagPadded = 0, 0x8
		if typ == frameData && flags&flagPadded == 0 {
			s := streams[id]
			if s == nil {
				s = &envelopeScanner{p: p}
				streams[id] = s
			}
			s.scan(payload)
		}
		if _, err := client.Write(append(hdr, payload...)); err != nil {
			return
		}
	}
}

// serveHTTP1 forwards HTTP/1.1 responses, one after another, scanning
// their bodies (chunked, or of a Content-Length) for envelopes.
func (p *flipProxy) serveHTTP1(client net.Conn, srv *bufio.Reader) {
	for {
		var head []byte
		chunked, length := false, 0
		for {
			line, err := srv.ReadSlice('\n')
			if err != nil {
				return
			}
			head = append(head, line...)
			l := strings.ToLower(strings.TrimSpace(string(line)))
			if l == "" {
				break
			}
			if v, ok := strings.CutPrefix(l, "transfer-encoding:"); ok && strings.Contains(v, "chunked") {
				chunked = true
			}
			if v, ok := strings.CutPrefix(l, "content-length:"); ok {
				length, _ = strconv.Atoi(strings.TrimSpace(v))
			}
		}
		if _, err := client.Write(head); err != nil {
			return
		}
		s := &envelopeScanner{p: p}
		if !chunked {
			if !p.forward(client, srv, s, length) {
				return
			}
			continue
		}
		for {
			line, err := srv.ReadSlice('\n')
			if err != nil {
				return
			}
			size, err := strconv.ParseInt(strings.TrimSpace(strings.SplitN(string(line), ";", 2)[0]), 16, 64)
			if err != nil {
				return
			}
			if _, err := client.Write(line); err != nil {
				return
			}
			if size == 0 {
				break
			}
			if !p.forward(client, srv, s, int(size)) || !p.forward(client, srv, nil, 2) { // data, CRLF
				return
			}
		}
		for { // trailers, up to the empty line
			line, err := srv.ReadSlice('\n')
			if err != nil {
				return
			}
			if _, err := client.Write(line); err != nil {
				return
			}
			if strings.TrimSpace(string(line)) == "" {
				break
			}
		}
	}
}

// forward copies n bytes from srv to client, scanning them with s (if set).
func (p *flipProxy) forward(client net.Conn, srv *bufio.Reader, s *envelopeScanner, n int) bool {
	b := make([]byte, n)
	if _, err := io.ReadFull(srv, b); err != nil {
		return false
	}
	if s != nil {
		s.scan(b)
	}
	_, err := client.Write(b)
	return err == nil
}

// envelopeScanner follows the Connect envelopes (flags byte, 4-byte length,
// message) of one HTTP/2 stream across its DATA frames, or of one HTTP/1.1
// response body across its chunks.
type envelopeScanner struct {
	p      *flipProxy
	prefix []byte // envelope prefix bytes seen so far
	flags  byte
	size   int    // current message's length
	pos    int    // offset in the current message
	head   []byte // the message's first bytes, to find its chunk data
	flipAt int    // offset to flip; -1 none; -2 not decided yet
}

// headLen is enough of a FetchChunksResponse to reach its data field.
const headLen = 32

func (s *envelopeScanner) scan(b []byte) {
	for len(b) > 0 {
		if s.pos == s.size && len(s.prefix) < 5 { // between messages
			s.prefix = append(s.prefix, b[0])
			b = b[1:]
			if len(s.prefix) == 5 {
				s.flags, s.size = s.prefix[0], int(binary.BigEndian.Uint32(s.prefix[1:]))
				s.pos, s.head, s.flipAt = 0, s.head[:0], -2
			}
			continue
		}
		n := min(len(b), s.size-s.pos)
		if s.flipAt == -2 {
			n = min(n, headLen-len(s.head))
			s.head = append(s.head, b[:n]...)
			if len(s.head) == headLen || s.pos+n == s.size {
				s.flipAt = s.decide()
			}
		}
		if s.flipAt >= s.pos && s.flipAt < s.pos+n {
			b[s.flipAt-s.pos] ^= 0x10
			s.p.flipped.Add(1)
		}
		s.pos += n
		b = b[n:]
		if s.pos == s.size {
			s.prefix = s.prefix[:0]
		}
	}
}

// decide returns the offset of the bit to flip in the current message: the
// middle of a chunk message's data if corrupt selects it, else -1.
func (s *envelopeScanner) decide() int {
	const endStream = 0x2
	if s.flags&endStream != 0 {
		return -1
	}
	b, off := s.head, 0
	zstd := false
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return -1
		}
		b, off = b[n:], off+n
		if num == 4 && typ == protowire.BytesType { // FetchChunksResponse.data
			size, n := protowire.ConsumeVarint(b)
			if n < 0 || size == 0 {
				return -1
			}
			if zstd {
				s.p.zstd.Add(1)
			}
			if !s.p.corrupt(s.p.chunks.Add(1)-1, zstd) {
				return -1
			}
			return off + n + int(size)/2
		}
		if typ != protowire.VarintType {
			return -1 // not a FetchChunksResponse
		}
		v, n := protowire.ConsumeVarint(b)
		if n < 0 {
			return -1
		}
		zstd = zstd || (num == 3 && v == 2) // encoding: ENCODING_ZSTD
		b, off = b[n:], off+n
	}
	return -1
}
