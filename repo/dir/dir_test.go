package dir_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/snapsync/snapsync/repo"
	"github.com/snapsync/snapsync/repo/dir"
	"github.com/snapsync/snapsync/repo/repotest"
)

func TestRepository(t *testing.T) {
	t.Parallel()
	repotest.Run(t, repotest.Harness{
		New: func(t *testing.T) repo.Backend {
			b, err := dir.New(filepath.Join(t.TempDir(), "repo"))
			if err != nil {
				t.Fatal(err)
			}
			return b
		},
		Overwrite: func(t *testing.T, b repo.Backend, key string, data []byte) {
			if err := os.WriteFile(filepath.Join(b.(*dir.Backend).Root(), filepath.FromSlash(key)), data, 0o644); err != nil {
				t.Fatal(err)
			}
		},
	})
}
