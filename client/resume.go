package client

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"runtime"

	"golang.org/x/sync/errgroup"

	"github.com/snapsync/snapsync/internal/durable"
	"github.com/snapsync/snapsync/verify"
)

// scanStage finds what an interrupted attempt at the same snapshot left in
// stage/: for each group leader, which chunks are in place, rehashed at the
// manifest's boundaries (nil: nothing usable), and whether the file is
// complete (every chunk, and the exact size). An entry of the wrong type is
// removed, and so is a partial file that shares its inode (a hard link from
// elsewhere), since writing into it would write elsewhere too.
func scanStage(ctx context.Context, fsys durable.StageFS, stage string, m *verify.Manifest, pool *bufPool) (done [][]bool, complete []bool, err error) {
	done = make([][]bool, len(m.Files))
	complete = make([]bool, len(m.Files))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(runtime.GOMAXPROCS(0))
	for i := range m.Files {
		f := &m.Files[i]
		if f.LinkTo >= 0 {
			continue
		}
		g.Go(func() error {
			var err error
			done[i], complete[i], err = scanFile(gctx, fsys, stage, f, pool)
			return err
		})
	}
	if err := g.Wait(); err != nil {
		return nil, nil, err
	}
	return done, complete, nil
}

func scanFile(ctx context.Context, fsys durable.StageFS, stage string, f *verify.File, pool *bufPool) ([]bool, bool, error) {
	p, err := join(stage, f.Path)
	if err != nil {
		return nil, false, err
	}
	info, err := fsys.Lstat(p)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil, false, nil
	case err != nil:
		return nil, false, fmt.Errorf("stat staged %s: %w", f.Path, err)
	case !info.Mode.IsRegular():
		return nil, false, removeEntry(fsys, p)
	}
	done, all, err := hashStaged(ctx, fsys, p, f, pool)
	if err != nil {
		return nil, false, err
	}
	all = all && info.Size == f.Size
	if !all && info.Nlink > 1 {
		return nil, false, removeEntry(fsys, p)
	}
	return done, all, nil
}

// hashStaged reads the file at p chunk by chunk at f's boundaries and reports
// which chunks hold the manifest's bytes.
func hashStaged(ctx context.Context, fsys durable.StageFS, p string, f *verify.File, pool *bufPool) (done []bool, all bool, err error) {
	fh, err := fsys.OpenFile(p, os.O_RDONLY, 0)
	if err != nil {
		return nil, false, fmt.Errorf("open staged %s: %w", f.Path, err)
	}
	defer fh.Close()
	buf := pool.get()
	defer pool.put(buf)
	done = make([]bool, len(f.Chunks))
	all = true
	var off int64
	for j, c := range f.Chunks {
		if ctx.Err() != nil {
			return nil, false, context.Cause(ctx)
		}
		b := (*buf)[:c.Length]
		n, err := fh.ReadAt(b, off)
		if err != nil && !errors.Is(err, io.EOF) {
			return nil, false, fmt.Errorf("read staged %s: %w", f.Path, err)
		}
		done[j] = n == len(b) && verify.Sum(b) == c.Digest
		all = all && done[j]
		off += int64(c.Length)
	}
	return done, all, nil
}

// removeEntry removes whatever is at p, below the install's own staging area.
func removeEntry(fsys durable.FS, p string) error {
	if err := fsys.RemoveAll(p); err != nil {
		return fmt.Errorf("remove %s: %w", p, err)
	}
	return nil
}
