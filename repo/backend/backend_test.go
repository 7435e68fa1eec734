package backend

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/snapsync/snapsync/internal/s3test"
	"github.com/snapsync/snapsync/repo"
	"github.com/snapsync/snapsync/repo/dir"
	"github.com/snapsync/snapsync/repo/s3"
)

func TestOpen(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	root := t.TempDir()
	for _, loc := range []string{filepath.Join(root, "a"), "file://" + filepath.Join(root, "b")} {
		if b, err := open(ctx, loc, nil, dir.New); err != nil {
			t.Fatalf("open(%q) = %v", loc, err)
		} else if _, ok := b.(*dir.Backend); !ok {
			t.Fatalf("open(%q) = %T, want a directory", loc, b)
		}
	}
	for _, loc := range []string{"", "gs://bucket/x", "s3://"} {
		if _, err := open(ctx, loc, func(string) string { return "" }, dir.New); err == nil {
			t.Fatalf("open(%q) succeeded", loc)
		}
	}
	srv := s3test.Start(t)
	env := map[string]string{"AWS_ACCESS_KEY_ID": srv.AccessKey, "AWS_SECRET_ACCESS_KEY": srv.SecretKey, "AWS_ENDPOINT_URL": srv.URL()}
	b, err := open(ctx, "s3://"+srv.Bucket+"/x", func(k string) string { return env[k] }, dir.Open)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := b.(*s3.Backend); !ok {
		t.Fatalf("open(s3://) = %T", b)
	}
	env["AWS_SECRET_ACCESS_KEY"] = "wrong-secret"
	_, err = open(ctx, "s3://"+srv.Bucket+"/x", func(k string) string { return env[k] }, dir.Open)
	if err == nil || strings.Contains(err.Error(), "wrong-secret") {
		t.Fatalf("open with a wrong secret = %v, want an error that does not show it", err)
	}
}

// TestOpenCreatesNothing opens locations that do not exist, or are no
// directory: Open refuses each with a *repo.NoRepositoryError naming it and
// creates nothing; Create makes the missing directory.
func TestOpenCreatesNothing(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	root := t.TempDir()
	file := filepath.Join(root, "file")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, loc := range []string{filepath.Join(root, "typo", "path"), "file://" + filepath.Join(root, "typo"), file} {
		_, err := Open(ctx, loc)
		var nr *repo.NoRepositoryError
		if !errors.As(err, &nr) || !errors.Is(err, repo.ErrNoRepository) || !strings.Contains(err.Error(), strings.TrimPrefix(loc, "file://")) {
			t.Errorf("Open(%q) = %v, want a *repo.NoRepositoryError naming it", loc, err)
		}
	}
	if entries, err := os.ReadDir(root); err != nil || len(entries) != 1 {
		t.Fatalf("after Open: %d entries in %s (%v), want the file only", len(entries), root, err)
	}
	if _, err := Create(ctx, filepath.Join(root, "new")); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(filepath.Join(root, "new")); err != nil || !fi.IsDir() {
		t.Fatalf("Create made no directory: %v", err)
	}
}
