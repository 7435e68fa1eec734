package repotest

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"iter"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/snapsync/snapsync/repo"
)

// Memory is a repo.Backend in memory, for tests only: it keeps every object
// in a map, so it is fast and holds nothing after the test. It passes the
// same contract suite (RunBackend) as the real backends. The zero Memory is
// empty and ready to use.
type Memory struct {
	// Now is the clock of the modification times; nil is time.Now.
	Now func() time.Time

	mu      sync.Mutex
	objects map[string]memObject
}

type memObject struct {
	data []byte
	mod  time.Time
}

var _ repo.Backend = (*Memory)(nil)

// check refuses a key that is no valid key, and an ended ctx.
func (*Memory) check(ctx context.Context, key string) error {
	if !repo.ValidKey(key) {
		return fmt.Errorf("memory: %w: %q", repo.ErrBadKey, key)
	}
	if ctx.Err() != nil {
		return context.Cause(ctx)
	}
	return nil
}

// object returns the object of key.
func (m *Memory) object(ctx context.Context, key string) (memObject, error) {
	if err := m.check(ctx, key); err != nil {
		return memObject{}, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	o, ok := m.objects[key]
	if !ok {
		return memObject{}, fmt.Errorf("memory: %s: %w", key, repo.ErrNotFound)
	}
	return o, nil
}

// Get returns a reader of the object of key; reads end once ctx does.
func (m *Memory) Get(ctx context.Context, key string) (io.ReadCloser, error) {
	o, err := m.object(ctx, key)
	if err != nil {
		return nil, err
	}
	return &memReader{ctx: ctx, r: bytes.NewReader(o.data)}, nil
}

// memReader reads an object until ctx ends. Put never changes a stored
// slice, so it needs no lock.
type memReader struct {
	ctx context.Context
	r   *bytes.Reader
}

func (r *memReader) Read(p []byte) (int, error) {
	if r.ctx.Err() != nil {
		return 0, context.Cause(r.ctx)
	}
	return r.r.Read(p[:min(len(p), 64<<10)]) // small reads, so a cancel can land
}

func (*memReader) Close() error { return nil }

// Put reads exactly size bytes of r and then stores them at key.
func (m *Memory) Put(ctx context.Context, key string, r io.Reader, size int64) error {
	if err := m.check(ctx, key); err != nil {
		return err
	}
	data, err := io.ReadAll(io.LimitReader(r, size+1))
	switch {
	case err != nil:
		return fmt.Errorf("memory: put %s: %w", key, err)
	case int64(len(data)) != size:
		return fmt.Errorf("memory: put %s: read %d bytes, want %d", key, len(data), size)
	case ctx.Err() != nil:
		return context.Cause(ctx)
	}
	now := time.Now
	if m.Now != nil {
		now = m.Now
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.objects == nil {
		m.objects = map[string]memObject{}
	}
	m.objects[key] = memObject{data: data, mod: now()}
	return nil
}

// Stat returns the size and modification time of the object of key.
func (m *Memory) Stat(ctx context.Context, key string) (int64, time.Time, error) {
	o, err := m.object(ctx, key)
	if err != nil {
		return 0, time.Time{}, err
	}
	return int64(len(o.data)), o.mod, nil
}

// ReadAt copies len(p) bytes of the object of key from offset off into p.
func (m *Memory) ReadAt(ctx context.Context, key string, p []byte, off int64) error {
	o, err := m.object(ctx, key)
	if err != nil {
		return err
	}
	if off < 0 || off > int64(len(o.data)) || int64(len(o.data))-off < int64(len(p)) {
		return fmt.Errorf("memory: read %s: %d bytes at %d of %d: %w", key, len(p), off, len(o.data), io.ErrUnexpectedEOF)
	}
	copy(p, o.data[off:])
	return nil
}

// Delete removes the object of key; an absent key is no error.
func (m *Memory) Delete(ctx context.Context, key string) error {
	if err := m.check(ctx, key); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.objects, key)
	return nil
}

// List yields, in lexical order, the keys that start with prefix when it is
// called.
func (m *Memory) List(ctx context.Context, prefix string) iter.Seq2[string, error] {
	return func(yield func(string, error) bool) {
		m.mu.Lock()
		var keys []string
		for k := range m.objects {
			if strings.HasPrefix(k, prefix) {
				keys = append(keys, k)
			}
		}
		m.mu.Unlock()
		slices.Sort(keys)
		for _, k := range keys {
			if ctx.Err() != nil {
				yield("", fmt.Errorf("memory: list %s: %w", prefix, context.Cause(ctx)))
				return
			}
			if !yield(k, nil) {
				return
			}
		}
	}
}
