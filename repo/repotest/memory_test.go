package repotest_test

import (
	"bytes"
	"testing"

	"github.com/snapsync/snapsync/repo"
	"github.com/snapsync/snapsync/repo/repotest"
)

// TestMemoryBackend runs the Backend contract on the in-memory backend.
func TestMemoryBackend(t *testing.T) {
	t.Parallel()
	repotest.RunBackend(t, func(*testing.T) repo.Backend { return new(repotest.Memory) })
}

// TestMemoryRepository runs the repository suite on the in-memory backend,
// which overwrites an object with a Put.
func TestMemoryRepository(t *testing.T) {
	t.Parallel()
	repotest.Run(t, repotest.Harness{
		New: func(*testing.T) repo.Backend { return new(repotest.Memory) },
		Overwrite: func(t *testing.T, b repo.Backend, key string, data []byte) {
			t.Helper()
			if err := b.(*repotest.Memory).Put(t.Context(), key, bytes.NewReader(data), int64(len(data))); err != nil {
				t.Fatal(err)
			}
		},
	})
}
