// Package testtree writes file trees for tests.
package testtree

import (
	"os"
	"path/filepath"
	"testing"
)

// Write writes files (slash-separated path below dir -> content) with their
// parent directories.
func Write(tb testing.TB, dir string, files map[string]string) {
	tb.Helper()
	for p, data := range files {
		full := filepath.Join(dir, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			tb.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(data), 0o644); err != nil {
			tb.Fatal(err)
		}
	}
}

// Link makes hard links (new path below dir -> existing path below dir) with
// their parent directories.
func Link(tb testing.TB, dir string, links map[string]string) {
	tb.Helper()
	for p, target := range links {
		full := filepath.Join(dir, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			tb.Fatal(err)
		}
		if err := os.Link(filepath.Join(dir, filepath.FromSlash(target)), full); err != nil {
			tb.Fatal(err)
		}
	}
}

// Names returns the names of dir's entries, sorted.
func Names(tb testing.TB, dir string) []string {
	tb.Helper()
	es, err := os.ReadDir(dir)
	if err != nil {
		tb.Fatal(err)
	}
	names := make([]string, 0, len(es))
	for _, e := range es {
		names = append(names, e.Name())
	}
	return names
}
