package auth

import (
	"errors"
	"fmt"
	"os"
	"sync"
	"syscall"
	"time"
)

// stamp is what tells a changed file from an unchanged one without reading
// it: a rename over the path (the usual rotation) changes the inode, an
// in-place rewrite the size or modification time.
type stamp struct {
	ino   uint64
	size  int64
	mtime time.Time
}

func stampOf(path string) (stamp, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return stamp{}, err
	}
	s := stamp{size: fi.Size(), mtime: fi.ModTime()}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		s.ino = st.Ino
	}
	return s, nil
}

// reloader holds a value parsed from a set of files and parses them again
// when any of them changes. A file caught half-written fails to parse: the
// previous value stays in use and the next call tries again, so a rotation is
// never seen torn.
type reloader[T any] struct {
	paths []string
	parse func(data [][]byte) (T, error)

	mu     sync.Mutex
	stamps []stamp
	value  T
	loaded bool
}

func newReloader[T any](parse func([][]byte) (T, error), paths ...string) (*reloader[T], error) {
	r := &reloader[T]{paths: paths, parse: parse}
	if _, err := r.get(); err != nil {
		return nil, err
	}
	return r, nil
}

// get returns the current value, reloading it first if a file changed.
func (r *reloader[T]) get() (T, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	stamps := make([]stamp, len(r.paths))
	changed := !r.loaded
	for i, p := range r.paths {
		s, err := stampOf(p)
		if err != nil {
			return r.stale(fmt.Errorf("stat %s: %w", p, err))
		}
		stamps[i] = s
		changed = changed || s != r.stamps[i]
	}
	if !changed {
		return r.value, nil
	}
	data := make([][]byte, len(r.paths))
	for i, p := range r.paths {
		b, err := os.ReadFile(p)
		if err != nil {
			return r.stale(fmt.Errorf("read %s: %w", p, err))
		}
		data[i] = b
	}
	v, err := r.parse(data)
	if err != nil {
		return r.stale(err)
	}
	r.value, r.stamps, r.loaded = v, stamps, true
	return v, nil
}

// stale returns the last good value when there is one, else err.
func (r *reloader[T]) stale(err error) (T, error) {
	if r.loaded {
		return r.value, nil
	}
	var zero T
	return zero, errors.Join(ErrConfig, err)
}
