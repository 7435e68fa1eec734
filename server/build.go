package server

import (
	"bufio"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"golang.org/x/sync/errgroup"

	"github.com/snapsync/snapsync/chunker"
	"github.com/snapsync/snapsync/internal/digestcache"
	"github.com/snapsync/snapsync/internal/durable"
	"github.com/snapsync/snapsync/verify"
)

// built is a manifest the server made: what it keeps in memory to serve it
// (its layout), its ID, and the file holding its canonical encoding, written
// and synced, which the catalog installs as ID.manifest (persist.go).
type built struct {
	lay *layout
	id  verify.Digest
	tmp string // "" once installed or discarded
	// chunks indexes its chunks by digest key, for FetchByDigest
	// (chunkindex.go); nil when the index could not be read.
	chunks map[uint64]chunkRef
}

// discard removes the encoding of a build the catalog did not take.
func (b *built) discard() error {
	if b.tmp == "" {
		return nil
	}
	err := os.Remove(b.tmp)
	b.tmp = ""
	return err
}

// buildManifest walks the checkpoint at root and describes it: directories,
// files with their chunk digests (from the cache where the inode is
// unchanged, else hashed, parallel files at once; an empty file is never
// opened) and hard-link groups. The canonical encoding streams to a file in
// dir, each file's chunk records written in place as its hashing ends, so
// memory holds a file's chunk list only while it is hashed.
//
// onHashed, when not nil, gets every chunk hashed (not those the cache
// gives) with its bytes, as Config.OnHashed says.
func buildManifest(ctx context.Context, root, dir string, meta verify.Meta, chunkSize, parallel int, cache *digestCache,
	onHashed func(context.Context, verify.Chunk, []byte) error) (_ *built, err error) {
	t, err := walkTree(ctx, root, uint32(chunkSize), parallel)
	if err != nil {
		return nil, err
	}
	t = t.sorted()
	lay := &layout{meta: meta, chunkSize: uint32(chunkSize), paths: t.paths, stats: t.keys}
	head := verify.AppendHead(nil, &meta, lay.chunkSize, t.dirs, t.files())
	if err := (&verify.Manifest{Meta: meta, ChunkSize: lay.chunkSize, Dirs: t.dirs}).Validate(); err != nil {
		return nil, fmt.Errorf("manifest of %s: %w", root, err)
	}
	if err := lay.place(len(head), func(i int) int { return int(t.links.at(i)) }); err != nil {
		return nil, fmt.Errorf("manifest of %s: %w", root, err)
	}
	f, err := createTemp(dir)
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			f.Close() // failed: removed below
			os.Remove(f.Name())
		}
	}()
	todo, err := writeEncoding(f, head, t, lay, cache)
	if err != nil {
		return nil, fmt.Errorf("write manifest of %s: %w", root, err)
	}
	if err := hashInto(ctx, f, root, t, lay, todo, parallel, cache, onHashed); err != nil {
		return nil, err
	}
	id, err := syncAndSum(f, lay.encSize)
	if err != nil {
		return nil, fmt.Errorf("manifest of %s: %w", root, err)
	}
	if err := f.Close(); err != nil {
		return nil, fmt.Errorf("close manifest of %s: %w", root, err)
	}
	return &built{lay: lay, id: id, tmp: f.Name()}, nil
}

// createTemp makes a file for a manifest being built; a restarted server
// removes one a crash left (load).
func createTemp(dir string) (*os.File, error) {
	var b [8]byte
	rand.Read(b[:]) // never fails
	f, err := os.OpenFile(filepath.Join(dir, "build-"+hex.EncodeToString(b[:])+tmpSuffix), os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return nil, fmt.Errorf("create manifest file: %w", err)
	}
	return f, nil
}

// writeEncoding writes the whole encoding to f: every entry, the chunk
// records of files the cache knows, and zeros where the records of the
// files it returns (by index) will be written once they are hashed.
func writeEncoding(f *os.File, head []byte, t *tree, lay *layout, cache *digestCache) ([]int32, error) {
	w := bufio.NewWriterSize(f, 1<<20)
	w.Write(head) // a bufio.Writer's error sticks: Flush reports it
	var todo []int32
	var buf []byte
	zeros := make([]byte, 64*verify.ChunkRecordSize)
	for i := range t.files() {
		link, key, n := int(t.links.at(i)), t.keys.at(i), lay.Chunks(i)
		buf = verify.AppendFileHead(buf[:0], t.paths.at(i), link, key.Size, t.modes.at(i), n)
		hash := false
		if link < 0 && n > 0 {
			if chunks, ok := cache.get(key); ok && len(chunks) == n {
				for _, c := range chunks {
					buf = verify.AppendChunk(buf, c)
				}
			} else {
				todo, hash = append(todo, int32(i)), true
			}
		}
		w.Write(buf)
		for left := n * verify.ChunkRecordSize; hash && left > 0; left -= min(left, len(zeros)) {
			w.Write(zeros[:min(left, len(zeros))])
		}
	}
	return todo, w.Flush()
}

// hashInto hashes the files todo names, parallel at once, and writes each
// one's chunk records into the encoding in f.
func hashInto(ctx context.Context, f *os.File, root string, t *tree, lay *layout, todo []int32, parallel int, cache *digestCache,
	onHashed func(context.Context, verify.Chunk, []byte) error) error {
	g, ctx := errgroup.WithContext(ctx)
	g.SetLimit(parallel)
	for _, i := range todo {
		path, key := t.paths.at(int(i)), t.keys.at(int(i))
		g.Go(func() error {
			chunks, err := hashFile(ctx, filepath.Join(root, filepath.FromSlash(path)), key, onHashed)
			if err != nil {
				return fmt.Errorf("hash %q: %w", path, err)
			}
			recs := make([]byte, 0, len(chunks)*verify.ChunkRecordSize)
			for _, c := range chunks {
				recs = verify.AppendChunk(recs, c)
			}
			if _, err := f.WriteAt(recs, lay.recs[i]); err != nil {
				return fmt.Errorf("write digests of %q: %w", path, err)
			}
			cache.put(key, chunks)
			return nil
		})
	}
	return g.Wait()
}

// syncAndSum syncs the encoding in f, checks its size, and returns its
// digest: the snapshot ID.
func syncAndSum(f *os.File, size int64) (verify.Digest, error) {
	if err := f.Sync(); err != nil {
		return verify.Digest{}, fmt.Errorf("sync: %w", err)
	}
	h := sha256.New()
	n, err := io.CopyBuffer(h, io.NewSectionReader(f, 0, size+1), make([]byte, 1<<20))
	if err != nil {
		return verify.Digest{}, fmt.Errorf("read back: %w", err)
	}
	if n != size {
		return verify.Digest{}, fmt.Errorf("encoding is %d bytes, want %d", n, size)
	}
	return verify.Digest(h.Sum(nil)), nil
}

// hashFile hashes the file at path, which must keep the stat key seen by the
// walk before and after it is read, handing each chunk to onHashed (if not
// nil) as it is hashed.
func hashFile(ctx context.Context, path string, want digestcache.Key, onHashed func(context.Context, verify.Chunk, []byte) error) ([]verify.Chunk, error) {
	f, err := openNoFollow(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if err := checkUnchanged(f, want); err != nil {
		return nil, err
	}
	var fn func(verify.Chunk, []byte) error
	if onHashed != nil {
		fn = func(c verify.Chunk, data []byte) error { return onHashed(ctx, c, data) }
	}
	chunks, n, err := chunker.Each(ctx, f, int(want.ChunkSize), fn)
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
