package serve

import (
	"context"
	"errors"
	"fmt"
	"io"

	snapsyncv1 "github.com/snapsync/snapsync/proto/gen/snapsync/v1"
	"github.com/snapsync/snapsync/repo"
	"github.com/snapsync/snapsync/server"
)

// snapshot is the snapshot a Store serves, open for one call: nothing to
// hold, the caller's repository lock holds it.
type snapshot struct{ s *Store }

var (
	_ server.Snapshot    = snapshot{}
	_ server.ChunkSender = (*chunks)(nil)
)

func (sn snapshot) Desc() server.Desc { return sn.s.desc }

func (sn snapshot) Close() {}

// OpenManifest streams the manifest object, verified as it is read: a
// manifest damaged since New fails the Read that would deliver its last
// bytes (the client checks the digest too, so nothing unverified is ever
// installed).
func (sn snapshot) OpenManifest(ctx context.Context) (io.ReadCloser, error) {
	id, want := sn.s.desc.ID, sn.s.desc.ManifestSize
	rc, size, err := sn.s.r.OpenManifest(ctx, id)
	if err == nil && size != want {
		rc.Close() // read-only: nothing to lose
		err = fmt.Errorf("manifest %s: %w: %d bytes, %d when the snapshot was opened", id, repo.ErrCorrupt, size, want)
	}
	if err != nil {
		return nil, storeError(ctx, err)
	}
	return manifestReader{ctx: ctx, ReadCloser: rc}, nil
}

// manifestReader maps the errors of a manifest object's stream.
type manifestReader struct {
	ctx context.Context
	io.ReadCloser
}

func (m manifestReader) Read(p []byte) (int, error) {
	n, err := m.ReadCloser.Read(p)
	if err != nil && err != io.EOF {
		err = storeError(m.ctx, err)
	}
	return n, err
}

// Chunks sends each chunk read and verified through repo.GetChunk, raw: the
// client is on the same host, where compressing would only cost. A chunk at
// most verify.MaxChunkSize (3 MiB) keeps every message under 4 MiB.
func (sn snapshot) Chunks(_ context.Context, _ *snapsyncv1.FetchChunksRequest, _ string, send func(any) error, _ bool) (server.ChunkSender, error) {
	return &chunks{s: sn.s, send: send}, nil
}

// chunks sends the chunks of one stream.
type chunks struct {
	s    *Store
	send func(any) error
	msg  snapsyncv1.FetchChunksResponse
}

func (c *chunks) Send(ctx context.Context, fi, j int, _ int64) error {
	f := &c.s.desc.Manifest.Files[fi]
	ch := f.Chunks[j]
	data, err := c.s.r.GetChunk(ctx, ch.Digest, ch.Length)
	if err != nil {
		return storeError(ctx, fmt.Errorf("chunk %d of %q: %w", j, f.Path, err))
	}
	c.msg.FileIndex, c.msg.ChunkIndex, c.msg.Encoding, c.msg.Data = uint32(fi), uint32(j), snapsyncv1.Encoding_ENCODING_RAW, data
	if err := c.send(&c.msg); err != nil {
		return fmt.Errorf("send chunk %d of %q: %w", j, f.Path, err)
	}
	return nil
}

func (c *chunks) Done(error) {}

// storeError gives err, from reading the repository, its meaning for the
// SnapshotService: damage is server.ErrDataLoss (the client must not
// retry), anything else server.ErrUnavailable.
func storeError(ctx context.Context, err error) error {
	switch {
	case ctx.Err() != nil:
		return context.Cause(ctx)
	case errors.Is(err, repo.ErrCorrupt), errors.Is(err, repo.ErrNotFound):
		return fmt.Errorf("%w: %w", server.ErrDataLoss, err)
	}
	return fmt.Errorf("%w: %w", server.ErrUnavailable, err)
}
