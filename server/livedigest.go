package server

import (
	"context"
	"errors"
	"path/filepath"

	"github.com/snapsync/snapsync/verify"
)

// HasChunks answers from the server's three chunk sources by digest: its
// checkpoints, the database its node installed (Config.InstalledDest) and
// the install it has in progress (Config.Staged).
func (l live) HasChunks(ctx context.Context, ds []verify.Digest) []bool {
	s := l.s
	now := s.cfg.Clock.Now()
	inst := s.installed.Load().current(ctx)
	have := make([]bool, len(ds))
	for i := range ds {
		have[i] = s.catalog.hasChunk(s.catalog.key.Of(&ds[i]), now) || inst.has(ds[i]) || s.cfg.Staged.has(ds[i])
	}
	return have
}

// ReadChunk reads chunk d from the first source that has it and whose
// bytes still hash to d.
func (l live) ReadChunk(ctx context.Context, d verify.Digest, buf []byte) ([]byte, error) {
	s := l.s
	data, err := s.readCheckpointChunk(d, buf)
	if !errors.Is(err, ErrNoChunk) {
		return data, err
	}
	if data, err = s.installed.Load().current(ctx).read(d, buf); !errors.Is(err, ErrNoChunk) {
		return data, err
	}
	return s.cfg.Staged.read(d, buf)
}

// readCheckpointChunk reads chunk d from a checkpoint that indexes it,
// held for the read as FetchChunks holds it: it is not removed under it.
func (s *Server) readCheckpointChunk(d verify.Digest, buf []byte) ([]byte, error) {
	e, ref, ok := s.catalog.acquireChunk(s.catalog.key.Of(&d), s.cfg.Clock.Now())
	if !ok {
		return nil, ErrNoChunk
	}
	defer func() { s.removeTrees(s.catalog.finish(e, s.cfg.Clock.Now())) }()
	fi, j := int(ref.fi), int(ref.j)
	path := filepath.Join(e.dir, filepath.FromSlash(e.lay.path(fi)))
	return readVerified(path, verify.Offset(e.lay.chunkSize, j), e.lay.length(fi, j), d, buf)
}
