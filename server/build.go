package server

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"golang.org/x/sync/errgroup"

	"github.com/snapsync/snapsync/chunker"
	"github.com/snapsync/snapsync/internal/digestcache"
	"github.com/snapsync/snapsync/internal/durable"
	"github.com/snapsync/snapsync/verify"
)

// built is a manifest with its canonical encoding, its ID, and the stat of
// each file (by manifest index) that FetchChunks checks before reading.
type built struct {
	man   *verify.Manifest
	enc   []byte
	id    verify.Digest
	stats []digestcache.Key
}

// buildManifest walks the checkpoint at root and describes it: directories,
// files with their chunk digests (from the cache where the inode is
// unchanged, else hashed, parallel files at once) and hard-link groups.
func buildManifest(ctx context.Context, root string, meta verify.Meta, chunkSize, parallel int, cache *digestCache) (*built, error) {
	t, err := walkTree(ctx, root, uint32(chunkSize))
	if err != nil {
		return nil, err
	}
	chunks, err := hashTree(ctx, root, t, parallel, cache)
	if err != nil {
		return nil, err
	}
	m := &verify.Manifest{Meta: meta, ChunkSize: uint32(chunkSize), Dirs: t.dirs, Files: make([]verify.File, len(t.files))}
	keys := make(map[string]digestcache.Key, len(t.files))
	for i, f := range t.files {
		owner := i
		if f.link >= 0 {
			owner = f.link
		}
		m.Files[i] = verify.File{Path: f.path, Size: f.key.Size, Mode: f.mode, LinkTo: f.link, Chunks: chunks[owner]}
		keys[f.path] = f.key
	}
	m.Sort()
	enc, err := m.Encode()
	if err != nil {
		return nil, fmt.Errorf("encode manifest of %s: %w", root, err)
	}
	b := &built{man: m, enc: enc, id: verify.Sum(enc), stats: make([]digestcache.Key, len(m.Files))}
	for i, f := range m.Files {
		b.stats[i] = keys[f.Path]
	}
	return b, nil
}

// hashTree returns the chunks of every file that leads its hard-link group,
// by tree index.
func hashTree(ctx context.Context, root string, t *tree, parallel int, cache *digestCache) ([][]verify.Chunk, error) {
	chunks := make([][]verify.Chunk, len(t.files))
	g, ctx := errgroup.WithContext(ctx)
	g.SetLimit(parallel)
	for i := range t.files {
		f := &t.files[i]
		if f.link >= 0 {
			continue
		}
		if c, ok := cache.get(f.key); ok {
			chunks[i] = c
			continue
		}
		g.Go(func() error {
			c, err := hashFile(ctx, filepath.Join(root, filepath.FromSlash(f.path)), f.key)
			if err != nil {
				return fmt.Errorf("hash %q: %w", f.path, err)
			}
			cache.put(f.key, c)
			chunks[i] = c
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	return chunks, nil
}

// hashFile hashes the file at path, which must keep the stat key seen by the
// walk before and after it is read.
func hashFile(ctx context.Context, path string, want digestcache.Key) ([]verify.Chunk, error) {
	f, err := openNoFollow(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if err := checkUnchanged(f, want); err != nil {
		return nil, err
	}
	chunks, n, err := chunker.Digests(ctx, f, int(want.ChunkSize))
	if err != nil {
		return nil, err
	}
	if n != want.Size {
		return nil, fmt.Errorf("%w: %s read %d bytes, size was %d", ErrChanged, path, n, want.Size)
	}
	if err := checkUnchanged(f, want); err != nil {
		return nil, err
	}
	return chunks, nil
}

// openNoFollow opens a checkpoint file for reading, refusing a symlink.
func openNoFollow(path string) (*os.File, error) {
	f, err := durable.OpenNoFollow(path, os.O_RDONLY, 0)
	if err != nil {
		return nil, fmt.Errorf("open: %w", err)
	}
	return f, nil
}

// checkUnchanged fails with ErrChanged unless the open file still has the
// identity (device, inode, birth time), size and mtime in want.
func checkUnchanged(f *os.File, want digestcache.Key) error {
	info, err := durable.Stat(f)
	if err != nil {
		return fmt.Errorf("stat %s: %w", f.Name(), err)
	}
	if got := digestcache.KeyOf(info, want.ChunkSize); got != want {
		return fmt.Errorf("%w: %s (file %v -> %v, size %d -> %d, mtime %d -> %d)", ErrChanged, f.Name(),
			want.ID, got.ID, want.Size, got.Size, want.MtimeNs, got.MtimeNs)
	}
	return nil
}
