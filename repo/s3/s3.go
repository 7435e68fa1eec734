package s3

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"iter"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"github.com/snapsync/snapsync/internal/stall"
	"github.com/snapsync/snapsync/repo"
)

// Backend stores objects in a bucket of S3-compatible storage. S3 puts are
// atomic (a reader sees the old object or the new one) and listings are
// consistent with the puts before them, which repo's locks rely on.
type Backend struct {
	c      *minio.Client
	bucket string
	prefix string
}

var _ repo.Backend = (*Backend)(nil)

// New returns a Backend for cfg after checking that its bucket exists.
func New(ctx context.Context, cfg Config) (*Backend, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	tr, err := transport(cfg)
	if err != nil {
		return nil, err
	}
	lookup := minio.BucketLookupAuto
	if cfg.PathStyle {
		lookup = minio.BucketLookupPath
	}
	c, err := minio.New(cfg.endpoint(), &minio.Options{
		Creds:        credentials.NewStaticV4(cfg.AccessKey, cfg.SecretKey, cfg.SessionToken),
		Secure:       !cfg.Insecure,
		Transport:    tr,
		Region:       cfg.region(),
		BucketLookup: lookup,
	})
	if err != nil {
		return nil, fmt.Errorf("s3: %s: %w", cfg, err)
	}
	ok, err := c.BucketExists(ctx, cfg.Bucket)
	if err == nil && !ok {
		err = errors.New("no such bucket")
	}
	if err != nil {
		return nil, fmt.Errorf("s3: %s: %w", cfg, err)
	}
	return &Backend{c: c, bucket: cfg.Bucket, prefix: cfg.Prefix}, nil
}

// transport bounds every wait: the dial and TLS handshake, the response
// headers, and then the body by progress (stall.Transport).
func transport(cfg Config) (http.RoundTripper, error) {
	base, err := minio.DefaultTransport(!cfg.Insecure)
	if err != nil {
		return nil, fmt.Errorf("s3: %w", err)
	}
	limit := cfg.stallLimit()
	base.DialContext = (&net.Dialer{Timeout: min(limit, 30*time.Second), KeepAlive: 30 * time.Second}).DialContext
	base.TLSHandshakeTimeout = min(limit, 30*time.Second)
	base.ResponseHeaderTimeout = limit
	return &stall.Transport{Base: base, Limit: limit}, nil
}

// object returns the object name of key.
func (b *Backend) object(key string) (string, error) {
	if !repo.ValidKey(key) {
		return "", fmt.Errorf("s3: %w: %q", repo.ErrBadKey, key)
	}
	return b.prefix + key, nil
}

// wrap maps S3's "no such key" to repo.ErrNotFound.
func wrap(op, key string, err error) error {
	r := minio.ToErrorResponse(err)
	if r.Code == minio.NoSuchKey || r.StatusCode == http.StatusNotFound {
		return fmt.Errorf("s3: %s %s: %w", op, key, repo.ErrNotFound)
	}
	return fmt.Errorf("s3: %s %s: %w", op, key, err)
}

// Get opens the object of key; its body is read as the caller reads.
func (b *Backend) Get(ctx context.Context, key string) (io.ReadCloser, error) {
	name, err := b.object(key)
	if err != nil {
		return nil, err
	}
	obj, err := b.c.GetObject(ctx, b.bucket, name, minio.GetObjectOptions{})
	if err != nil {
		return nil, wrap("get", key, err)
	}
	// The first Read sends the GET, so a missing key is reported here, not
	// on a later Read. (obj.Stat would send a HEAD first: two requests.)
	var first [1]byte
	n, err := obj.Read(first[:])
	if err != nil && !errors.Is(err, io.EOF) {
		_ = obj.Close() // the error to report is Read's
		return nil, wrap("get", key, err)
	}
	return &peeked{Reader: io.MultiReader(bytes.NewReader(first[:n]), obj), Closer: obj}, nil
}

// peeked is an object whose first byte was read to send its GET.
type peeked struct {
	io.Reader
	io.Closer
}

// ReadAt reads len(p) bytes of the object of key from offset off with one
// GET of that range. A range past the object's end (416) is
// io.ErrUnexpectedEOF, as is a shorter answer.
func (b *Backend) ReadAt(ctx context.Context, key string, p []byte, off int64) error {
	name, err := b.object(key)
	if err != nil {
		return err
	}
	if off < 0 {
		return fmt.Errorf("s3: read %s at %d: negative offset", key, off)
	}
	if len(p) == 0 {
		_, _, err := b.Stat(ctx, key)
		return err
	}
	var opts minio.GetObjectOptions
	if err := opts.SetRange(off, off+int64(len(p))-1); err != nil {
		return fmt.Errorf("s3: read %s: %w", key, err)
	}
	obj, err := b.c.GetObject(ctx, b.bucket, name, opts)
	if err != nil {
		return wrap("get", key, err)
	}
	defer obj.Close() // read-only: nothing to lose
	// Read through the object's own reader, not its ReadAt (which would
	// send another request).
	n, err := io.ReadFull(struct{ io.Reader }{obj}, p)
	if r := minio.ToErrorResponse(err); r.StatusCode == http.StatusRequestedRangeNotSatisfiable || r.Code == "InvalidRange" {
		return fmt.Errorf("s3: read %s: %d bytes at %d: %w", key, len(p), off, io.ErrUnexpectedEOF)
	}
	switch {
	case err == nil:
		return nil
	case errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF):
		return fmt.Errorf("s3: read %s: %d bytes at %d, want %d: %w", key, n, off, len(p), io.ErrUnexpectedEOF)
	}
	return wrap("get", key, err)
}

// Put uploads exactly size bytes of r as the object of key. An r with more
// bytes fails the upload before it completes (minio-go would read size bytes
// and store them).
func (b *Backend) Put(ctx context.Context, key string, r io.Reader, size int64) error {
	name, err := b.object(key)
	if err != nil {
		return err
	}
	_, err = b.c.PutObject(ctx, b.bucket, name, &exactReader{r: r, left: size}, size, minio.PutObjectOptions{ContentType: "application/octet-stream"})
	if err != nil {
		return wrap("put", key, err)
	}
	return nil
}

// Stat returns the size and Last-Modified time of the object of key.
func (b *Backend) Stat(ctx context.Context, key string) (int64, time.Time, error) {
	name, err := b.object(key)
	if err != nil {
		return 0, time.Time{}, err
	}
	info, err := b.c.StatObject(ctx, b.bucket, name, minio.StatObjectOptions{})
	if err != nil {
		return 0, time.Time{}, wrap("stat", key, err)
	}
	return info.Size, info.LastModified, nil
}

// Delete removes the object of key; S3 reports no error for an absent one.
func (b *Backend) Delete(ctx context.Context, key string) error {
	name, err := b.object(key)
	if err != nil {
		return err
	}
	if err := b.c.RemoveObject(ctx, b.bucket, name, minio.RemoveObjectOptions{}); err != nil {
		return wrap("delete", key, err)
	}
	return nil
}

// List yields the keys of the objects whose names start with the prefix and
// then prefix.
func (b *Backend) List(ctx context.Context, prefix string) iter.Seq2[string, error] {
	return func(yield func(string, error) bool) {
		ctx, cancel := context.WithCancel(ctx)
		defer cancel() // stops minio-go's listing goroutine when we stop early
		for obj := range b.c.ListObjects(ctx, b.bucket, minio.ListObjectsOptions{Prefix: b.prefix + prefix, Recursive: true}) {
			if obj.Err != nil {
				yield("", fmt.Errorf("s3: list %s: %w", prefix, obj.Err))
				return
			}
			key, ok := strings.CutPrefix(obj.Key, b.prefix)
			if ok && !yield(key, nil) {
				return
			}
		}
	}
}

// Prefix returns what the backend puts before every key.
func (b *Backend) Prefix() string { return b.prefix }
