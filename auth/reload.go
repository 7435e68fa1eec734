package auth

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"slices"
	"sync"
	"syscall"
	"time"

	"github.com/rs/zerolog"
)

// stamp is what tells a changed file from an unchanged one without reading
// it: a rename over the path (the usual rotation) changes the inode, an
// in-place rewrite the size or modification time, a chmod or chown the mode
// or owner (checked again for a key or token). A file that cannot be found is
// stamped with the error.
type stamp struct {
	ino     uint64
	size    int64
	mtime   time.Time
	mode    fs.FileMode
	uid     uint32
	missing string
}

// stampOf stats path, following symlinks: a Kubernetes Secret's file is a
// symlink (through ..data) to the file whose content and mode count.
func stampOf(path string) (stamp, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return stamp{missing: err.Error()}, err
	}
	s := stamp{size: fi.Size(), mtime: fi.ModTime(), mode: fi.Mode()}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		s.ino, s.uid = st.Ino, st.Uid
	}
	return s, nil
}

// watched is one file a reloader reads. A secret one (a private key, a
// token) is checked for modes that let others read it.
type watched struct {
	path   string
	secret bool
}

// reloader holds a value parsed from a set of files and parses them again
// when any of them changes. A file caught half-written fails to parse: the
// previous value stays in use and the next change is tried again, so a
// rotation is never seen torn. Each failure is logged once, at warn; each
// reload at info.
type reloader[T any] struct {
	what  string // what the files hold, for the logs: "certificate and key"
	files []watched
	parse func(data [][]byte) (T, error)
	log   zerolog.Logger

	mu     sync.Mutex
	stamps []stamp // of the files value was parsed from
	failed []stamp // of the files as they last failed to load; nil since a success
	value  T
}

// newReloader loads files, or returns why it cannot (wrapping ErrConfig).
func newReloader[T any](what string, parse func([][]byte) (T, error), o options, files ...watched) (*reloader[T], error) {
	r := &reloader[T]{what: what, files: files, parse: parse, log: o.log}
	stamps, err := r.stat()
	if err == nil {
		r.value, err = r.load()
	}
	if err != nil && !errors.Is(err, ErrConfig) {
		err = fmt.Errorf("%w: %w", ErrConfig, err) // one line: the CLI's last
	}
	if err != nil {
		return nil, err
	}
	r.stamps = stamps
	r.checkModes()
	return r, nil
}

// get returns the current value, reloading it first if a file changed.
func (r *reloader[T]) get() T {
	r.mu.Lock()
	defer r.mu.Unlock()
	stamps, err := r.stat()
	if slices.Equal(stamps, r.stamps) || slices.Equal(stamps, r.failed) {
		return r.value // unchanged, or spoiled as it was when last logged
	}
	var v T
	if err == nil {
		v, err = r.load()
	}
	if err != nil {
		r.failed = stamps
		r.log.Warn().Str("what", r.what).Strs("files", r.paths()).Err(err).
			Msg("reload failed; keeping the last good one until the files change again")
		return r.value
	}
	r.value, r.stamps, r.failed = v, stamps, nil
	r.log.Info().Str("what", r.what).Strs("files", r.paths()).Msg("reloaded")
	r.checkModes()
	return v
}

// stat stamps every file; the error is the first file's that is missing.
func (r *reloader[T]) stat() ([]stamp, error) {
	stamps := make([]stamp, len(r.files))
	var first error
	for i, f := range r.files {
		s, err := stampOf(f.path)
		if err != nil && first == nil {
			first = err
		}
		stamps[i] = s
	}
	return stamps, first
}

// load reads and parses the files.
func (r *reloader[T]) load() (T, error) {
	data := make([][]byte, len(r.files))
	for i, f := range r.files {
		b, err := os.ReadFile(f.path)
		if err != nil {
			var zero T
			return zero, fmt.Errorf("read %s: %w", f.path, err)
		}
		data[i] = b
	}
	return r.parse(data)
}

func (r *reloader[T]) paths() []string {
	paths := make([]string, len(r.files))
	for i, f := range r.files {
		paths[i] = f.path
	}
	return paths
}
