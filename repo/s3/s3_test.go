package s3_test

import (
	"bytes"
	"context"
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/minio/minio-go/v7"

	"github.com/snapsync/snapsync/internal/s3test"
	"github.com/snapsync/snapsync/repo"
	"github.com/snapsync/snapsync/repo/repotest"
	"github.com/snapsync/snapsync/repo/s3"
)

// TestRepository runs the repository suite against versitygw, each test in
// a prefix of its own of one bucket.
func TestRepository(t *testing.T) {
	srv := s3test.Start(t)
	repotest.Run(t, repotest.Harness{
		New: backends(srv),
		Overwrite: func(t *testing.T, b repo.Backend, key string, data []byte) {
			name := b.(*s3.Backend).Prefix() + key
			if _, err := srv.Client.PutObject(context.Background(), srv.Bucket, name, bytes.NewReader(data), int64(len(data)), minio.PutObjectOptions{}); err != nil {
				t.Fatal(err)
			}
		},
	})
}

// TestBackend runs the Backend contract against versitygw, each test in a
// prefix of its own of one bucket.
func TestBackend(t *testing.T) {
	repotest.RunBackend(t, backends(s3test.Start(t)))
}

// backends returns a function that makes a backend on srv, each in a new
// prefix of its bucket.
func backends(srv *s3test.Server) func(t *testing.T) repo.Backend {
	var n atomic.Int64
	return func(t *testing.T) repo.Backend {
		env := map[string]string{
			"AWS_ACCESS_KEY_ID": srv.AccessKey, "AWS_SECRET_ACCESS_KEY": srv.SecretKey,
			"AWS_ENDPOINT_URL": srv.URL(),
		}
		cfg, err := s3.FromURL(fmt.Sprintf("s3://%s/backups/t%d", srv.Bucket, n.Add(1)), func(k string) string { return env[k] })
		if err != nil {
			t.Fatal(err)
		}
		b, err := s3.New(context.Background(), cfg)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
}
