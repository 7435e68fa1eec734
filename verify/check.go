package verify

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"golang.org/x/sync/errgroup"
)

// CheckDir verifies that the tree at root is exactly what m describes: every
// directory and regular file present (no symlinks), every file's size and
// chunk digests equal, hard-link groups preserved, and nothing else present.
// It reads every byte; parallel bounds how many files are hashed at once.
func CheckDir(ctx context.Context, root string, m *Manifest, parallel int) error {
	if err := m.Validate(); err != nil {
		return err
	}
	if err := checkEntries(root, m); err != nil {
		return err
	}
	g, ctx := errgroup.WithContext(ctx)
	g.SetLimit(max(parallel, 1))
	for i := range m.Files {
		f := &m.Files[i]
		if f.LinkTo >= 0 {
			continue
		}
		g.Go(func() error { return CheckFile(ctx, filepath.Join(root, filepath.FromSlash(f.Path)), f) })
	}
	return g.Wait()
}

// checkEntries compares the set of names under root with the manifest.
func checkEntries(root string, m *Manifest) error {
	want := make(map[string]bool, len(m.Dirs)+len(m.Files))
	for _, d := range m.Dirs {
		want[d.Path] = true
	}
	infos := make([]os.FileInfo, len(m.Files))
	for i, f := range m.Files {
		want[f.Path] = false
		fi, err := os.Lstat(filepath.Join(root, filepath.FromSlash(f.Path)))
		if err != nil {
			return fmt.Errorf("%w: %v", ErrMismatch, err)
		}
		if !fi.Mode().IsRegular() {
			return fmt.Errorf("%w: %q is %v, not a regular file", ErrMismatch, f.Path, fi.Mode().Type())
		}
		if fi.Size() != f.Size {
			return fmt.Errorf("%w: %q is %d bytes, want %d", ErrMismatch, f.Path, fi.Size(), f.Size)
		}
		if f.LinkTo >= 0 && !os.SameFile(fi, infos[f.LinkTo]) {
			return fmt.Errorf("%w: %q is not a hard link of %q", ErrMismatch, f.Path, m.Files[f.LinkTo].Path)
		}
		infos[i] = fi
	}
	return filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(root, p)
		if err != nil || rel == "." {
			return err
		}
		rel = filepath.ToSlash(rel)
		isDir, listed := want[rel]
		switch {
		case !listed:
			return fmt.Errorf("%w: unexpected %q", ErrMismatch, rel)
		case isDir != d.IsDir() || d.Type()&fs.ModeSymlink != 0:
			return fmt.Errorf("%w: %q has the wrong type", ErrMismatch, rel)
		}
		return nil
	})
}

// CheckFile reads the file at p and checks its size and every chunk digest.
func CheckFile(ctx context.Context, p string, f *File) error {
	fh, err := os.Open(p)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrMismatch, err)
	}
	defer fh.Close()
	var longest uint32
	for _, c := range f.Chunks {
		longest = max(longest, c.Length)
	}
	buf := make([]byte, longest)
	for j, c := range f.Chunks {
		if err := ctx.Err(); err != nil {
			return context.Cause(ctx)
		}
		b := buf[:c.Length]
		if _, err := io.ReadFull(fh, b); err != nil {
			return fmt.Errorf("%w: read %q chunk %d: %v", ErrMismatch, f.Path, j, err)
		}
		if err := CheckDigest(fmt.Sprintf("chunk %d of %q", j, f.Path), c.Digest, Sum(b)); err != nil {
			return err
		}
	}
	var one [1]byte
	if n, err := fh.Read(one[:]); n != 0 || !errors.Is(err, io.EOF) {
		return fmt.Errorf("%w: %q is longer than %d bytes", ErrMismatch, f.Path, f.Size)
	}
	return nil
}
