package client

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"

	"github.com/rs/zerolog"

	"github.com/snapsync/snapsync/internal/durable"
	"github.com/snapsync/snapsync/verify"
)

// stager writes verified content into stage/ and hands complete files to the
// flushers.
type stager struct {
	root  string // stage/
	fs    durable.StageFS
	mask  fs.FileMode // Config.FileModeMask
	plan  *plan
	hook  func(string) error
	ctr   *counters
	flush chan int // leaders whose every chunk is in place
	log   zerolog.Logger
	// buffered is Config.BufferedWrites: no direct I/O.
	buffered bool
	// onStaged is Config.OnChunkStaged.
	onStaged func(d verify.Digest, path string, off int64, length uint32)
	// bare marks the empty files prepareFiles created whole (createEmpty):
	// they need no fsync of their own, their directory's in finish makes
	// them durable. Nil when there is none.
	bare []bool
}

// path returns the staged path of manifest file i.
func (s *stager) path(i int) string {
	p, err := join(s.root, s.plan.m.Files[i].Path)
	if err != nil {
		panic(err) // unreachable: the manifest's paths are validated
	}
	return p
}

// prepareFiles places whole files and creates (or keeps, resized) every file
// written chunk by chunk, before any chunk is written.
func (s *stager) prepareFiles(ctx context.Context) error {
	for _, pl := range s.plan.place {
		if ctx.Err() != nil {
			return context.Cause(ctx)
		}
		if err := s.placeFile(pl); err != nil {
			return err
		}
	}
	bareOK := durable.DirSyncCoversCreates(s.root)
	for _, i := range s.plan.create {
		if ctx.Err() != nil {
			return context.Cause(ctx)
		}
		if bareOK && s.plan.m.Files[i].Size == 0 {
			if err := s.createEmpty(i); err != nil {
				return err
			}
			continue
		}
		if err := createFile(s.fs, s.path(i), s.plan.m.Files[i].Size); err != nil {
			return err
		}
	}
	return nil
}

// createEmpty creates the empty file i with its final mode in one create
// call, on a filesystem where its directory's fsync makes such a file
// durable (durable.DirSyncCoversCreates). When that made it whole (the file
// is new, and the umask left its mode alone), it is marked bare: no fsync
// of its own, the fsync of its directory in finish makes it durable
// (docs/DESIGN.md, "Durability of the staged tree"). Otherwise (a file an
// earlier attempt left, or a mode the umask changed) it is made as any
// other file, and the flushers give it its mode and fsync it.
func (s *stager) createEmpty(i int) error {
	p, mode := s.path(i), fileMode(s.plan.m.Files[i].Mode, s.mask)
	fh, err := s.fs.OpenFile(p, os.O_RDONLY|os.O_CREATE|os.O_EXCL, mode)
	if errors.Is(err, fs.ErrExist) {
		return createFile(s.fs, p, 0)
	}
	if err != nil {
		return fmt.Errorf("create %s: %w", p, err)
	}
	info, err := durable.Stat(fh)
	if cerr := fh.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("create %s: %w", p, err)
	}
	if info.Mode.Perm() == mode && info.Size == 0 {
		if s.bare == nil {
			s.bare = make([]bool, len(s.plan.m.Files))
		}
		s.bare[i] = true
	}
	return nil
}

// placeFile links or renames a whole local file into place, after checking it
// is still the file that was hashed.
func (s *stager) placeFile(pl placement) error {
	dst := s.path(pl.file)
	fi, err := os.Lstat(pl.src.path)
	if err != nil {
		return fmt.Errorf("stat %s: %w", pl.src.path, err)
	}
	if !sameVersion(fi, pl.src.info) {
		return fmt.Errorf("%w: %s changed while the install ran", ErrStaging, pl.src.path)
	}
	if err := removeEntry(s.fs, dst); err != nil {
		return err
	}
	if pl.link {
		if err := s.fs.Link(pl.src.path, dst); err != nil {
			return fmt.Errorf("link %s: %w", pl.src.path, err)
		}
		return nil
	}
	if err := s.fs.Rename(pl.src.path, dst); err != nil {
		return fmt.Errorf("move %s: %w", pl.src.path, err)
	}
	pl.src.path = dst // chunks indexed in it are still there
	return nil
}

// sameVersion reports whether two infos describe the same, unchanged file.
func sameVersion(a, b fs.FileInfo) bool {
	return os.SameFile(a, b) && a.Size() == b.Size() && a.ModTime().Equal(b.ModTime()) && a.Mode() == b.Mode()
}

// createFile makes p a writable regular file of size bytes, keeping what an
// earlier attempt wrote in it.
func createFile(fsys durable.StageFS, p string, size int64) error {
	if info, err := fsys.Lstat(p); err == nil && info.Mode.IsRegular() && info.Mode.Perm()&0o200 == 0 {
		if err := fsys.Chmod(p, 0o600); err != nil {
			return fmt.Errorf("chmod %s: %w", p, err)
		}
	}
	f, err := fsys.OpenFile(p, os.O_WRONLY|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("create %s: %w", p, err)
	}
	fi, err := f.Stat()
	if err == nil && fi.Size() != size {
		err = f.Truncate(size)
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("size %s: %w", p, err)
	}
	return nil
}

// put writes the verified bytes of j to every place that needs them, then
// hands the files it completed to the flushers. w, if not nil, keeps the
// file it wrote last open for the caller's next chunk.
func (s *stager) put(ctx context.Context, j *job, data []byte, w *chunkWriter) error {
	for _, t := range j.targets {
		if w == nil {
			w = &chunkWriter{fs: s.fs, buffered: s.buffered}
			defer w.close()
		}
		p, off := s.path(t.file), verify.Offset(s.plan.m.ChunkSize, t.chunk)
		if err := w.writeAt(p, data, off); err != nil {
			return err
		}
		if s.onStaged != nil {
			s.onStaged(*j.digest, p, off, j.length)
		}
		if err := callHook(s.hook, "chunk-written"); err != nil {
			return err
		}
		s.ctr.done.Add(int64(len(data)))
		if s.plan.remaining[t.file].Add(-1) == 0 {
			if err := s.fileDone(ctx, t.file); err != nil {
				return err
			}
		}
	}
	j.done = true
	return nil
}

// open makes the stager an install's chunkSink: each stream writes with a
// chunkWriter of its own.
func (s *stager) open() streamSink {
	return &stageStream{s: s, w: &chunkWriter{fs: s.fs, buffered: s.buffered}}
}

// stageStream is one stream's way into the staged files.
type stageStream struct {
	s *stager
	w *chunkWriter
}

func (t *stageStream) put(ctx context.Context, j *job, data []byte) error {
	return t.s.put(ctx, j, data, t.w)
}

func (t *stageStream) close() { t.w.close() }

// chunkWriter writes chunks into staged files, keeping the last file open:
// a stream's consecutive chunks of a file cost a pwrite each rather than an
// open, a pwrite and a close. Aligned chunks (every whole chunk, from the
// aligned buffers of a stream) are written with direct I/O unless buffered
// is set: they do not pass through the page cache, which costs a copy and,
// for a database of hundreds of GiB, evicts the node's working set. The
// rest (a file's last, short chunk) and every write on a filesystem without
// direct I/O go through the page cache. The flushers fsync each complete
// file through their own handle; fsync covers the file's data and metadata
// whichever descriptor wrote it, and direct writes are coherent with the
// page cache.
type chunkWriter struct {
	fs       durable.StageFS
	buffered bool // Config.BufferedWrites, or direct I/O refused
	path     string
	f, d     *os.File // the file, opened buffered and for direct I/O
}

func (w *chunkWriter) writeAt(p string, data []byte, off int64) error {
	if w.path != p {
		w.close()
		w.path = p
	}
	if !w.buffered && directOK(data, off) {
		done, err := w.writeDirect(data, off)
		if done || err != nil {
			return err
		}
	}
	if w.f == nil {
		f, err := w.fs.OpenFile(p, os.O_WRONLY, 0)
		if err != nil {
			return fmt.Errorf("open %s: %w", p, err)
		}
		w.f = f
	}
	if _, err := w.f.WriteAt(data, off); err != nil {
		return fmt.Errorf("write %s at %d: %w", p, off, err)
	}
	return nil
}

// writeDirect writes data at off with direct I/O; false (and no error) when
// the filesystem refuses it, which turns direct I/O off for the writer.
func (w *chunkWriter) writeDirect(data []byte, off int64) (bool, error) {
	if w.d == nil {
		d, err := w.fs.OpenFile(w.path, os.O_WRONLY|oDirect, 0)
		if directRefused(err) {
			w.buffered = true
			return false, nil
		}
		if err != nil {
			return false, fmt.Errorf("open %s: %w", w.path, err)
		}
		w.d = d
	}
	_, err := w.d.WriteAt(data, off)
	if directRefused(err) { // the whole chunk is written again, buffered
		w.buffered = true
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("write %s at %d: %w", w.path, off, err)
	}
	return true, nil
}

// close closes the open file, if any. A write error is reported by WriteAt
// and the data's durability by the flusher's fsync, so close's error adds
// nothing.
func (w *chunkWriter) close() {
	for _, f := range []*os.File{w.f, w.d} {
		if f != nil {
			_ = f.Close()
		}
	}
	w.f, w.d, w.path = nil, nil, ""
}

// fileDone queues a complete file for fsync, or counts a bare one
// (createEmpty) as done: it has its mode, and finish's directory fsyncs make
// it durable.
func (s *stager) fileDone(ctx context.Context, i int) error {
	if s.bare != nil && s.bare[i] {
		s.ctr.files.Add(1)
		return nil
	}
	select {
	case s.flush <- i:
		return nil
	case <-ctx.Done():
		return context.Cause(ctx)
	}
}

// flushWorker fsyncs complete files and gives them their mode, until the
// queue is closed.
func (s *stager) flushWorker(ctx context.Context) error {
	for i := range s.flush {
		if ctx.Err() != nil {
			return context.Cause(ctx)
		}
		if err := syncFile(s.fs, s.path(i), &s.plan.m.Files[i], s.mask, s.plan.isSynced(i)); err != nil {
			return err
		}
		if err := callHook(s.hook, "file-synced"); err != nil {
			return err
		}
		s.ctr.files.Add(1)
	}
	return nil
}

// syncFile checks a complete file's size, sets its mode (the manifest's,
// masked: fileMode) on the open file and fsyncs it through fsys. A file
// already durable (placed from one the digest cache knew: snapsync fsynced
// it when it wrote it) is fsynced only if its mode had to change.
func syncFile(fsys durable.StageFS, p string, f *verify.File, mask fs.FileMode, durableAlready bool) error {
	fh, err := fsys.OpenFile(p, os.O_RDONLY, 0)
	if err != nil {
		return fmt.Errorf("open %s: %w", p, err)
	}
	defer fh.Close()
	fi, err := fh.Stat()
	if err != nil {
		return fmt.Errorf("stat %s: %w", p, err)
	}
	if fi.Size() != f.Size {
		return fmt.Errorf("%w: staged %s is %d bytes, want %d", ErrStaging, f.Path, fi.Size(), f.Size)
	}
	if mode := fileMode(f.Mode, mask); fi.Mode().Perm() != mode {
		if err := fh.Chmod(mode); err != nil {
			return fmt.Errorf("chmod %s: %w", p, err)
		}
		durableAlready = false
	}
	if durableAlready {
		return nil
	}
	if err := fsys.Sync(fh); err != nil {
		return fmt.Errorf("sync %s: %w", p, err)
	}
	return nil
}

// callHook calls hook at point, if set.
func callHook(hook func(string) error, point string) error {
	if hook == nil {
		return nil
	}
	if err := hook(point); err != nil {
		return fmt.Errorf("hook %s: %w", point, err)
	}
	return nil
}
