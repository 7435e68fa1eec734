package s3test

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os/exec"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
)

// Server is a running versitygw with one bucket.
type Server struct {
	Endpoint  string // host:port, plain http
	AccessKey string
	SecretKey string
	Bucket    string
	Dir       string // the POSIX backend's root: Dir/Bucket holds the objects
	// Client is a minio-go client for the server, for tests that reach
	// around the code under test (to corrupt an object, say).
	Client *minio.Client
}

// URL returns the endpoint as AWS_ENDPOINT_URL takes it.
func (s *Server) URL() string { return "http://" + s.Endpoint }

// Start starts versitygw for the test and stops it in tb's Cleanup.
func Start(tb testing.TB) *Server {
	tb.Helper()
	bin := Binary(tb)
	s := &Server{AccessKey: "snapsynctestkey", SecretKey: "snapsync-test-secret-do-not-use", Bucket: "snapsync-test", Dir: tb.TempDir()}
	var lastErr error
	for range 3 { // the ephemeral port may be taken between probe and start
		if lastErr = s.start(tb, bin); lastErr == nil {
			return s
		}
	}
	tb.Fatalf("s3test: %v", lastErr)
	return nil
}

func (s *Server) start(tb testing.TB, bin string) error {
	port, err := freePort()
	if err != nil {
		return err
	}
	s.Endpoint = fmt.Sprintf("127.0.0.1:%d", port)
	out := &syncBuffer{}
	cmd := exec.Command(bin, "--access", s.AccessKey, "--secret", s.SecretKey, "--port", s.Endpoint, "--quiet", "posix", s.Dir)
	cmd.Stdout, cmd.Stderr = out, out
	cmd.Env = []string{"PATH=/usr/bin:/bin"} // nothing of ours leaks into its settings
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start versitygw: %w", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	stop := func() {
		_ = cmd.Process.Signal(syscall.SIGTERM) // it may have exited already; Wait tells
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill() // the error is for a process already gone
			<-exited
		}
	}
	if err := s.ready(exited); err != nil {
		stop()
		return fmt.Errorf("%w\nversitygw output:\n%s", err, out.String())
	}
	tb.Cleanup(stop)
	return nil
}

// ready waits until the server answers and makes the bucket.
func (s *Server) ready(exited <-chan error) error {
	c, err := minio.New(s.Endpoint, &minio.Options{
		Creds: credentials.NewStaticV4(s.AccessKey, s.SecretKey, ""), Region: "us-east-1",
		BucketLookup: minio.BucketLookupPath, MaxRetries: 1,
	})
	if err != nil {
		return err
	}
	s.Client = c
	deadline := time.Now().Add(30 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		err = c.MakeBucket(ctx, s.Bucket, minio.MakeBucketOptions{})
		cancel()
		if err == nil {
			return nil
		}
		select {
		case werr := <-exited:
			return fmt.Errorf("versitygw exited: %v", werr)
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("versitygw at %s did not answer in 30 s: %w", s.Endpoint, err)
		}
	}
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// syncBuffer is a bytes.Buffer the server's output goroutines may share.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}
