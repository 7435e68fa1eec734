package serve

import (
	"context"
	"errors"
	"fmt"

	"github.com/snapsync/snapsync/repo"
	"github.com/snapsync/snapsync/server"
	"github.com/snapsync/snapsync/verify"
)

// lengths maps each chunk of the snapshot served to its length: a chunk is
// served by digest if the snapshot holds it (its length is what GetChunk
// checks) and the repository has it.
func (s *Store) lengths() map[verify.Digest]uint32 {
	s.lengthsOnce.Do(func() {
		s.byDigest = make(map[verify.Digest]uint32)
		for _, f := range s.desc.Manifest.Files {
			for _, c := range f.Chunks {
				s.byDigest[c.Digest] = c.Length
			}
		}
	})
	return s.byDigest
}

// HasChunks reports which of ds are chunks of the snapshot served that the
// repository has (repo.Repo.HasChunk); one it cannot tell is a no.
func (s *Store) HasChunks(ctx context.Context, ds []verify.Digest) []bool {
	lens := s.lengths()
	have := make([]bool, len(ds))
	for i, d := range ds {
		if _, ok := lens[d]; !ok {
			continue
		}
		ok, err := s.r.HasChunk(ctx, d)
		have[i] = ok && err == nil
	}
	return have
}

// ReadChunk reads chunk d from the repository, verified (repo.Repo.GetChunk):
// a chunk the snapshot served does not hold, or the repository does not
// have or holds damaged, is server.ErrNoChunk; a repository that cannot be
// read is server.ErrUnavailable.
func (s *Store) ReadChunk(ctx context.Context, d verify.Digest, buf []byte) ([]byte, error) {
	length, ok := s.lengths()[d]
	if !ok {
		return nil, server.ErrNoChunk
	}
	data, err := s.r.GetChunk(ctx, d, length)
	var ce *repo.ChunkError
	switch {
	case errors.Is(err, repo.ErrNotFound) || errors.As(err, &ce):
		return nil, fmt.Errorf("%w: %w", server.ErrNoChunk, err)
	case err != nil:
		return nil, fmt.Errorf("%w: %w", server.ErrUnavailable, err)
	}
	return append(buf, data...), nil
}
