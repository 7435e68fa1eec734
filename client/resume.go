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
// elsewhere), since writing into it would write elsewhere too. It lists
// each directory once (ReadDirInfo) and looks only at the files it finds:
// a fresh stage/ of a million files costs a listing per directory, not a
// lookup per file.
// A leader's chunk list comes from tbl when m does not hold it.
func scanStage(ctx context.Context, fsys durable.StageFS, stage string, m *verify.Manifest, tbl *chunkTable, pool *bufPool) (done [][]bool, complete []bool, err error) {
	done = make([][]bool, len(m.Files))
	complete = make([]bool, len(m.Files))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(runtime.GOMAXPROCS(0))
	t := newTreeIndex(m)
	for _, dir := range t.dirs() {
		have, err := listStaged(fsys, stage, dir)
		if err != nil {
			return nil, nil, err
		}
		matchFiles(m, t.children(dir), have, func(i int, info durable.Info) {
			if m.Files[i].LinkTo >= 0 {
				return
			}
			g.Go(func() error {
				chunks, err := tbl.chunks(m, i)
				if err != nil {
					return err
				}
				done[i], complete[i], err = scanFile(gctx, fsys, stage, &m.Files[i], chunks, info, pool)
				return err
			})
		})
	}
	if err := g.Wait(); err != nil {
		return nil, nil, err
	}
	return done, complete, nil
}

// listStaged lists the manifest directory dir ("" for the root) below
// stage; nothing there is an empty listing.
func listStaged(fsys durable.FS, stage, dir string) ([]durable.DirInfo, error) {
	p := stage
	if dir != "" {
		var err error
		if p, err = join(stage, dir); err != nil {
			return nil, err
		}
	}
	have, err := fsys.ReadDirInfo(p)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("list staged %s: %w", p, err)
	}
	return have, nil
}

// matchFiles calls found for each file among want (a directory's manifest
// entries, sorted by name) that have (its listing, sorted by name) holds,
// and returns how many of want's files it did not find.
func matchFiles(m *verify.Manifest, want []ref, have []durable.DirInfo, found func(file int, info durable.Info)) (missing int) {
	i := 0
	for _, r := range want {
		if r.isDir() {
			continue
		}
		name := r.name(m)
		for i < len(have) && have[i].Name < name {
			i++
		}
		if i < len(have) && have[i].Name == name {
			found(int(r), have[i].Info)
		} else {
			missing++
		}
	}
	return missing
}

func scanFile(ctx context.Context, fsys durable.StageFS, stage string, f *verify.File, chunks []verify.Chunk, info durable.Info, pool *bufPool) ([]bool, bool, error) {
	p, err := join(stage, f.Path)
	if err != nil {
		return nil, false, err
	}
	if !info.Mode.IsRegular() {
		return nil, false, removeEntry(fsys, p)
	}
	done, all, err := hashStaged(ctx, fsys, p, f, chunks, pool)
	if err != nil {
		return nil, false, err
	}
	all = all && info.Size == f.Size
	if !all && info.Nlink > 1 {
		return nil, false, removeEntry(fsys, p)
	}
	return done, all, nil
}

// hashStaged reads the file at p chunk by chunk at f's boundaries (chunks,
// its chunk list) and reports which chunks hold the manifest's bytes.
func hashStaged(ctx context.Context, fsys durable.StageFS, p string, f *verify.File, chunks []verify.Chunk, pool *bufPool) (done []bool, all bool, err error) {
	fh, err := fsys.OpenFile(p, os.O_RDONLY, 0)
	if err != nil {
		return nil, false, fmt.Errorf("open staged %s: %w", f.Path, err)
	}
	defer fh.Close()
	buf := pool.get()
	defer pool.put(buf)
	done = make([]bool, len(chunks))
	all = true
	var off int64
	for j, c := range chunks {
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
