package server

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"testing"

	"connectrpc.com/connect"

	"github.com/snapsync/snapsync/internal/rpccodec"
	"github.com/snapsync/snapsync/internal/testpki"
	snapsyncv1 "github.com/snapsync/snapsync/proto/gen/snapsync/v1"
	"github.com/snapsync/snapsync/proto/gen/snapsync/v1/snapsyncv1connect"
	dirsource "github.com/snapsync/snapsync/source/dir"
	"github.com/snapsync/snapsync/verify"
)

func skipWithoutSendFile(t *testing.T) {
	t.Helper()
	if !canSendFile {
		t.Skip("no sendfile here: chunks are always read")
	}
}

// tcpPair returns the two ends of a TCP connection on loopback, the
// accepted one as a spliceConn.
func tcpPair(t *testing.T) (*spliceConn, net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	peer, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	c, err := spliceListener{ln}.Accept()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = peer.Close(); _ = c.Close() })
	sc, ok := c.(*spliceConn)
	if !ok {
		t.Fatalf("accepted a %T", c)
	}
	return sc, peer
}

// TestSpliceConn: a write that is the registered region, whole and in
// place, sends the region's bytes from the file; a region written through
// a copy or in pieces, or never written, is a misfire that closes the
// connection; a file shorter than the region cuts the message short.
func TestSpliceConn(t *testing.T) {
	skipWithoutSendFile(t)
	t.Parallel()
	file := bytes.Repeat([]byte("file bytes, "), 1<<14) // 192 KiB
	path := filepath.Join(t.TempDir(), "f")
	if err := os.WriteFile(path, file, 0o600); err != nil {
		t.Fatal(err)
	}
	const head, n, off = 100, 64 << 10, 5000
	tests := []struct {
		name    string
		off     int64 // of the region in the file
		write   func(c *spliceConn, msg []byte) error
		wantErr error
		// whole: the peer reads the whole message before the connection
		// closes (a copy is sent as it is: the settle after it closes the
		// connection, and the client's digest check refuses it).
		whole bool
		// failed: the send failed (a peer gone, say): its unwritten region
		// is no misfire, but the connection is closed.
		failed bool
	}{
		{"in place", off, func(c *spliceConn, msg []byte) error {
			_, err := c.Write(msg)
			return err
		}, nil, true, false},
		{"head first, then the rest in place", off, func(c *spliceConn, msg []byte) error {
			if _, err := c.Write(msg[:head/2]); err != nil {
				return err
			}
			_, err := c.Write(msg[head/2:])
			return err
		}, nil, true, false},
		{"through a copy", off, func(c *spliceConn, msg []byte) error {
			_, err := c.Write(bytes.Clone(msg))
			return err
		}, errSpliceMisfire, true, false},
		{"ending inside the region", off, func(c *spliceConn, msg []byte) error {
			if _, err := c.Write(msg[:head+10]); err == nil {
				return errors.New("a write ending inside the region was taken")
			}
			return nil
		}, errSpliceMisfire, false, false},
		{"starting inside the region", off, func(c *spliceConn, msg []byte) error {
			if _, err := c.Write(msg[head+10:]); err == nil {
				return errors.New("a write starting inside the region was taken")
			}
			return nil
		}, errSpliceMisfire, false, false},
		{"never written", off, func(*spliceConn, []byte) error { return nil }, errSpliceMisfire, false, false},
		{"never written by a send that failed", off, func(*spliceConn, []byte) error { return nil }, nil, false, true},
		{"file too short", int64(len(file) - n/2), func(c *spliceConn, msg []byte) error {
			_, err := c.Write(msg)
			return err
		}, io.ErrUnexpectedEOF, false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f, err := os.Open(path)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			c, peer := tcpPair(t)
			msg := make([]byte, head+n)
			copy(msg, bytes.Repeat([]byte{'h'}, head))
			c.Defer(msg[head:], f, tt.off)
			read := make(chan []byte, 1)
			go func() {
				b, _ := io.ReadAll(peer)
				read <- b
			}()
			werr := tt.write(c, msg)
			var sendErr error // the send succeeded
			if tt.failed {
				sendErr = errors.New("send failed")
			}
			sent, err := c.settle(sendErr)
			if tt.wantErr == nil && !tt.failed {
				if werr != nil || err != nil || sent != n {
					t.Fatalf("write: %v; settle: %d, %v", werr, sent, err)
				}
				_ = c.Close()
				want := append(bytes.Repeat([]byte{'h'}, head), file[tt.off:tt.off+n]...)
				if got := <-read; !bytes.Equal(got, want) {
					t.Fatalf("peer read %d bytes, not the head and the file's", len(got))
				}
				return
			}
			if !errors.Is(err, tt.wantErr) || err == nil && tt.wantErr != nil || sent != 0 {
				t.Fatalf("settle: %d, %v; want 0, %v (write: %v)", sent, err, tt.wantErr, werr)
			}
			if got := <-read; (len(got) == len(msg)) != tt.whole {
				t.Fatalf("peer read %d bytes of a %d-byte message that failed", len(got), len(msg))
			}
			if _, err := c.TCPConn.Write([]byte("x")); err == nil {
				t.Fatal("the connection is still open")
			}
			if sent, err := c.settle(nil); sent != 0 || err != nil {
				t.Fatalf("second settle: %d, %v", sent, err)
			}
		})
	}
}

// TestSpliceInTheClearOverHTTP1Only: every protocol a peer may speak gets
// every chunk whole; only binary Connect over plaintext HTTP/1.1 (the
// snapsync client's chunk streams) sends raw chunks' tails by sendfile,
// exactly what they are.
func TestSpliceInTheClearOverHTTP1Only(t *testing.T) {
	skipWithoutSendFile(t)
	t.Parallel()
	dir := t.TempDir()
	sizes := map[string]int{"a": 10*testChunkSize + 123, "b/c": 3 * testChunkSize, "small": 50 << 10, "empty": 0}
	writeTree(t, dir, sizes)
	src, err := dirsource.New(dir, verify.Meta{})
	if err != nil {
		t.Fatal(err)
	}
	ts := startServer(t, Config{Source: src, Compression: CompressionNone})
	res := ts.create(t, 0, 0)
	m := ts.manifest(t, res.GetSnapshot().GetSnapshotId())
	var wantSpliced int64
	for _, f := range m.Files {
		for _, c := range f.Chunks {
			if c.Length >= 2*rpccodec.SpliceHead {
				wantSpliced += int64(c.Length) - rpccodec.SpliceHead
			}
		}
	}

	ca := testpki.NewCA(t, "test CA")
	cert, roots := ca.TLSCert(t, x509.ExtKeyUsageServerAuth, "127.0.0.1"), ca.Pool()
	tlsAddr, _ := serveLoopback(t, ts.srv.Handler(), WithTLS(&tls.Config{Certificates: []tls.Certificate{cert}, NextProtos: []string{"h2", "http/1.1"}}))
	tlsURL := "https://" + tlsAddr

	h1 := func(tc *tls.Config) *http.Client {
		var p http.Protocols
		p.SetHTTP1(true)
		return &http.Client{Transport: &http.Transport{Protocols: &p, TLSClientConfig: tc}}
	}
	tests := []struct {
		name    string
		client  snapsyncv1connect.SnapshotServiceClient
		spliced bool
	}{
		{"HTTP/1.1 proto", snapsyncv1connect.NewSnapshotServiceClient(h1(nil), ts.url), true},
		{"HTTP/1.1 rpccodec", snapsyncv1connect.NewSnapshotServiceClient(h1(nil), ts.url, connect.WithCodec(rpccodec.Codec{})), true},
		{"HTTP/1.1 JSON", snapsyncv1connect.NewSnapshotServiceClient(h1(nil), ts.url, connect.WithProtoJSON()), false},
		{"HTTP/1.1 gRPC-Web", snapsyncv1connect.NewSnapshotServiceClient(h1(nil), ts.url, connect.WithGRPCWeb()), true},
		{"h2c", newTestClient(ts.url), false},
		{"h2c gRPC", newTestClient(ts.url, connect.WithGRPC()), false},
		{"HTTP/1.1 over TLS", snapsyncv1connect.NewSnapshotServiceClient(h1(&tls.Config{RootCAs: roots}), tlsURL), false},
	}
	for _, tt := range tests { // in turn: each reads the server's counter
		t.Run(tt.name, func(t *testing.T) {
			before := ts.srv.Stats().BytesSpliced
			c := *ts
			c.client = tt.client
			f, err := c.fetch(context.Background(), t, m, &snapsyncv1.FetchChunksRequest{
				SnapshotId: res.GetSnapshot().GetSnapshotId(), Ranges: allRanges(m),
				Compression: snapsyncv1.Compression_COMPRESSION_NONE, LeaseId: res.GetLease().GetLeaseId(),
			})
			if err != nil {
				t.Fatal(err)
			}
			if f.raw != m.TotalBytes() {
				t.Fatalf("%d bytes, want %d", f.raw, m.TotalBytes())
			}
			got := ts.srv.Stats().BytesSpliced - before
			want := int64(0)
			if tt.spliced {
				want = wantSpliced
			}
			if got != want {
				t.Fatalf("%d bytes sent by sendfile, want %d", got, want)
			}
		})
	}
	if ts.srv.noSplice.Load() {
		t.Fatal("a misfire turned splicing off")
	}
}

// TestSpliceMisfireAndShrink drives a chunk stream by hand on a spliceConn:
// a chunk whose message is sent through a copy fails its stream and turns
// splicing off for the server; a file that shrank after it was opened is
// ErrChanged and breaks the checkpoint, as a short read is.
func TestSpliceMisfireAndShrink(t *testing.T) {
	skipWithoutSendFile(t)
	t.Parallel()
	for _, tt := range []struct {
		name    string
		copying bool // the send writes a copy of the message
		shrink  bool // the file shrinks after the stream's first chunk
		wantErr error
	}{
		{"misfire", true, false, errSpliceMisfire},
		{"shrank", false, true, ErrChanged},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			writeTree(t, dir, map[string]int{"a": 6 * testChunkSize})
			src, err := dirsource.New(dir, verify.Meta{})
			if err != nil {
				t.Fatal(err)
			}
			ts := startServer(t, Config{Source: src, Compression: CompressionNone})
			res := ts.create(t, 0, 0)
			id, err := verify.DigestFromBytes(res.GetSnapshot().GetSnapshotId())
			if err != nil {
				t.Fatal(err)
			}
			c, peer := tcpPair(t)
			go func() { _, _ = io.Copy(io.Discard, peer) }()
			ctx := context.WithValue(context.Background(), spliceKey{}, c)
			send := func(m any) error {
				b, err := rpccodec.Codec{}.MarshalAppend(nil, m)
				if err != nil {
					return err
				}
				if tt.copying {
					b = bytes.Clone(b)
				}
				_, err = c.Write(b)
				return err
			}
			snap, err := live{ts.srv}.Open(ctx, id)
			if err != nil {
				t.Fatal(err)
			}
			defer snap.Close()
			cs, err := snap.Chunks(ctx, &snapsyncv1.FetchChunksRequest{}, "", send, true)
			if err != nil {
				t.Fatal(err)
			}
			if tt.shrink {
				if err := cs.Send(ctx, 0, 0, 0); err != nil {
					t.Fatal(err)
				}
				// The chunk went by sendfile, so the short file below is
				// found by the splice, not by a read of the whole chunk.
				if got := ts.srv.Stats().BytesSpliced; got != testChunkSize-rpccodec.SpliceHead {
					t.Fatalf("first chunk: %d bytes spliced, want %d", got, testChunkSize-rpccodec.SpliceHead)
				}
				if err := os.Truncate(filepath.Join(snap.(*liveSnapshot).e.dir, "a"), 4*testChunkSize+testChunkSize/2+1); err != nil {
					t.Fatal(err)
				}
			}
			err = cs.Send(ctx, 0, 4, 4*testChunkSize)
			cs.Done(err)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("Send: %v, want %v", err, tt.wantErr)
			}
			if got := ts.srv.noSplice.Load(); got != tt.copying {
				t.Fatalf("splicing off: %v", got)
			}
			ts.srv.catalog.mu.Lock()
			broken := snap.(*liveSnapshot).e.broken
			ts.srv.catalog.mu.Unlock()
			if broken != tt.shrink {
				t.Fatalf("checkpoint broken: %v", broken)
			}
		})
	}
}
