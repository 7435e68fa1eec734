package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestRepoSourceFlags: a repo: source refuses, by name and reason, the
// options that do not apply to it; --repo-snapshot needs a repo: source; a
// location that holds no repository is refused and not created.
func TestRepoSourceFlags(t *testing.T) {
	t.Parallel()
	empty := filepath.Join(t.TempDir(), "empty")
	if err := os.Mkdir(empty, 0o750); err != nil {
		t.Fatal(err)
	}
	missing := filepath.Join(t.TempDir(), "missing")
	serve := func(args ...string) []string {
		return append([]string{"serve", "--listen", "127.0.0.1:0"}, args...)
	}
	tests := []struct {
		name    string
		args    []string
		wantErr []string // substrings of the error
	}{
		{"compression", serve("--source", "repo:"+empty, "--compression", "zstd"), []string{"does not apply to a repo: source", "--compression (chunks are sent raw"}},
		{"two refused", serve("--source", "repo:"+empty, "--work-dir", "/tmp/w", "--lease-ttl", "1m"), []string{"--work-dir (", "--lease-ttl ("}},
		{"checkpoint command", serve("--source", "repo:"+empty, "--checkpoint-command", "/bin/true"), []string{"--checkpoint-command ("}},
		{"max streams", serve("--source", "repo:"+empty, "--max-streams", "2"), []string{"--max-streams (", "--max-conns"}},
		{"snapshot of another source", serve("--source", "dir:"+empty, "--repo-snapshot", "latest"), []string{"--repo-snapshot needs a repo: source"}},
		{"bad snapshot ID", serve("--source", "repo:"+empty, "--repo-snapshot", "3f2a"), []string{"--repo-snapshot", "64 hex digits"}},
		{"no location", serve("--source", "repo:"), []string{"needs a repository"}},
		{"no repository", serve("--source", "repo:"+empty), []string{"no repository at " + empty}},
		{"missing directory", serve("--source", "repo:"+missing), []string{missing}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			err := run(context.Background(), tt.args, &out, &errOut)
			if err == nil {
				t.Fatal("serve succeeded")
			}
			for _, want := range tt.wantErr {
				if !strings.Contains(err.Error(), want) {
					t.Fatalf("error %q, want one containing %q", err, want)
				}
			}
		})
	}
	if ents, err := os.ReadDir(empty); err != nil || len(ents) != 0 {
		t.Fatalf("a repo: source wrote into a directory that holds no repository: %v %v", ents, err)
	}
	if _, err := os.Stat(missing); !os.IsNotExist(err) {
		t.Fatalf("a repo: source created its location: %v", err)
	}
}
