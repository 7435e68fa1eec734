package backend

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/snapsync/snapsync/internal/s3test"
	"github.com/snapsync/snapsync/repo/dir"
	"github.com/snapsync/snapsync/repo/s3"
)

func TestOpen(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	root := t.TempDir()
	for _, loc := range []string{filepath.Join(root, "a"), "file://" + filepath.Join(root, "b")} {
		if b, err := open(ctx, loc, nil); err != nil {
			t.Fatalf("open(%q) = %v", loc, err)
		} else if _, ok := b.(*dir.Backend); !ok {
			t.Fatalf("open(%q) = %T, want a directory", loc, b)
		}
	}
	for _, loc := range []string{"", "gs://bucket/x", "s3://"} {
		if _, err := open(ctx, loc, func(string) string { return "" }); err == nil {
			t.Fatalf("open(%q) succeeded", loc)
		}
	}
	srv := s3test.Start(t)
	env := map[string]string{"AWS_ACCESS_KEY_ID": srv.AccessKey, "AWS_SECRET_ACCESS_KEY": srv.SecretKey, "AWS_ENDPOINT_URL": srv.URL()}
	b, err := open(ctx, "s3://"+srv.Bucket+"/x", func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := b.(*s3.Backend); !ok {
		t.Fatalf("open(s3://) = %T", b)
	}
	env["AWS_SECRET_ACCESS_KEY"] = "wrong-secret"
	_, err = open(ctx, "s3://"+srv.Bucket+"/x", func(k string) string { return env[k] })
	if err == nil || strings.Contains(err.Error(), "wrong-secret") {
		t.Fatalf("open with a wrong secret = %v, want an error that does not show it", err)
	}
}
