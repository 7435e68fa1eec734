package durable

import (
	"errors"
	"io"
	"io/fs"
	"path/filepath"
	"strings"
	"sync"
)

// WithLogging returns an FS that writes one line to w after each operation of
// fsys: "rename a b", "sync-dir x", "lstat y -> not-exist". Paths inside base
// are written relative to it ("." for base itself); a failed operation ends
// its line with " -> not-exist" or " -> error". Lines from concurrent
// operations do not interleave; write errors of w are ignored.
func WithLogging(fsys StageFS, w io.Writer, base string) StageFS {
	var mu sync.Mutex
	around := func(op string, args []string, do func() error) error {
		err := do()
		rel := make([]string, len(args))
		for i, a := range args {
			rel[i] = relTo(base, a)
		}
		line := opLine(op, rel)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			line += " -> not-exist"
		case err != nil:
			line += " -> error"
		}
		mu.Lock()
		defer mu.Unlock()
		_, _ = io.WriteString(w, line+"\n") // a log line is best effort
		return err
	}
	return &wrapFS{fs: fsys, around: around}
}

// relTo returns p relative to base when p lies inside base, else p.
func relTo(base, p string) string {
	if base == "" {
		return p
	}
	r, err := filepath.Rel(base, p)
	if err != nil || r == ".." || strings.HasPrefix(r, ".."+string(filepath.Separator)) {
		return p
	}
	return filepath.ToSlash(r)
}
