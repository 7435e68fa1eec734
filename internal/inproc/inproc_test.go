package inproc

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestRoundTrip serves an HTTP handler on a Listener and calls it with a
// client that dials the same Listener, over HTTP/1.1 and HTTP/2 (h2c).
func TestRoundTrip(t *testing.T) {
	t.Parallel()
	ln := New()
	var p http.Protocols
	p.SetHTTP1(true)
	p.SetUnencryptedHTTP2(true)
	srv := &http.Server{Protocols: &p, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, r.Proto+" "+strings.Repeat("x", 1<<20)) // the test reads what arrives
	})}
	go func() { _ = srv.Serve(ln) }() // ends with ErrServerClosed at Close
	t.Cleanup(func() { _ = srv.Close() })
	for _, h2 := range []bool{false, true} {
		var cp http.Protocols
		if h2 {
			cp.SetUnencryptedHTTP2(true)
		} else {
			cp.SetHTTP1(true)
		}
		c := &http.Client{Transport: &http.Transport{Protocols: &cp, DialContext: ln.DialContext}}
		resp, err := c.Get("http://anything/")
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil || len(b) < 1<<20 {
			t.Fatalf("h2 %t: read %d bytes, %v", h2, len(b), err)
		}
		want := map[bool]string{false: "HTTP/1.1", true: "HTTP/2.0"}[h2]
		if !strings.HasPrefix(string(b), want) {
			t.Fatalf("h2 %t: served over %q, want %s", h2, b[:8], want)
		}
	}
}

// TestClosed: a closed Listener refuses new connections at once, and a
// dial waiting for Accept gives up with its context.
func TestClosed(t *testing.T) {
	t.Parallel()
	ln := New()
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, err := ln.DialContext(ctx, "tcp", "x"); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("dial with no Accept: %v, want the context's deadline", err)
	}
	if err := ln.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := ln.DialContext(context.Background(), "tcp", "x"); !errors.Is(err, ErrClosed) {
		t.Fatalf("dial after Close: %v", err)
	}
	if _, err := ln.Accept(); !errors.Is(err, ErrClosed) {
		t.Fatalf("accept after Close: %v", err)
	}
}
