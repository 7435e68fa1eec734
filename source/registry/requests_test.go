package registry

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/snapsync/snapsync/internal/testwait"
	"github.com/snapsync/snapsync/source"
)

// watchNode watches s like a node would, and returns the requests it gets;
// stop ends the watch.
func watchNode(tb testing.TB, s *Source) (reqs chan Request, stop func()) {
	tb.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	reqs = make(chan Request, 16)
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = s.Watch(ctx, func(r Request) error { reqs <- r; return nil }) // ends with ctx
	}()
	waitFor(tb, s.reqs.watching)
	stop = func() { cancel(); <-done }
	tb.Cleanup(stop)
	return reqs, stop
}

func waitFor(tb testing.TB, cond func() bool) {
	tb.Helper()
	testwait.Eventually(tb, 5*time.Second, func() (bool, string) { return cond(), "condition not met" })
}

type result struct {
	ck  source.Checkpoint
	err error
}

// checkpointAsync calls s.Checkpoint in the background.
func checkpointAsync(s *Source, dir string, minIndex uint64) chan result {
	c := make(chan result, 1)
	go func() {
		ck, err := s.Checkpoint(context.Background(), dir, minIndex)
		c <- result{ck, err}
	}()
	return c
}

func recv[T any](tb testing.TB, c chan T) T {
	tb.Helper()
	select {
	case v := <-c:
		return v
	case <-time.After(5 * time.Second):
		tb.Fatal("nothing received in 5s")
		panic("unreachable")
	}
}

// TestNoMaker: with no node watching and no command, a request beyond the
// registered checkpoint fails at once with ErrNoMaker, which is also an
// ErrMinIndex saying how far the registry reaches.
func TestNoMaker(t *testing.T) {
	t.Parallel()
	s := newSource(t, Config{})
	if err := s.Register(context.Background(), makeCheckpoint(t, s.root, "c"), 1, 10, nil); err != nil {
		t.Fatal(err)
	}
	_, err := s.Checkpoint(context.Background(), filepath.Join(t.TempDir(), "x"), 11)
	var mi *source.MinIndexError
	if !errors.Is(err, source.ErrNoMaker) || !errors.As(err, &mi) || mi.Newest != 10 || mi.Want != 11 {
		t.Fatalf("Checkpoint = %v, want ErrNoMaker and a MinIndexError{10, 11}", err)
	}
}

// TestRequestAnswered: a watching node gets the request, registers for it,
// and the waiting Checkpoint serves that registration.
func TestRequestAnswered(t *testing.T) {
	t.Parallel()
	s := newSource(t, Config{})
	reqs, _ := watchNode(t, s)
	res := checkpointAsync(s, filepath.Join(t.TempDir(), "x"), 50)
	req := recv(t, reqs)
	if req.MinIndex != 50 || req.ID == "" {
		t.Fatalf("request %+v", req)
	}
	if err := s.Register(context.Background(), makeCheckpoint(t, s.root, "c"), 2, 55, nil, ForRequest(req.ID)); err != nil {
		t.Fatal(err)
	}
	r := recv(t, res)
	if r.err != nil || r.ck.Meta.Index != 55 || r.ck.Meta.Term != 2 {
		t.Fatalf("Checkpoint = %+v, %v", r.ck, r.err)
	}
}

// TestRequestSingleFlight: a request for an index no higher than one in
// flight joins it; a higher one sends another; one registration reaching
// every index answers every waiter, and every watcher gets every request.
func TestRequestSingleFlight(t *testing.T) {
	t.Parallel()
	s := newSource(t, Config{})
	a, _ := watchNode(t, s)
	b, _ := watchNode(t, s)
	work := t.TempDir()
	r50 := checkpointAsync(s, filepath.Join(work, "50"), 50)
	first := recv(t, a)
	if got := recv(t, b); got != first {
		t.Fatalf("second watcher got %+v, want %+v", got, first)
	}
	r40 := checkpointAsync(s, filepath.Join(work, "40"), 40)
	r60 := checkpointAsync(s, filepath.Join(work, "60"), 60)
	second := recv(t, a)
	if second.MinIndex != 60 {
		t.Fatalf("second request %+v, want min index 60 (40 joins the request for 50)", second)
	}
	select {
	case extra := <-a:
		t.Fatalf("a third request %+v: 40 should have joined 50's", extra)
	case <-time.After(50 * time.Millisecond):
	}
	if err := s.Register(context.Background(), makeCheckpoint(t, s.root, "c"), 1, 60, nil, ForRequest(first.ID)); err != nil {
		t.Fatal(err)
	}
	for _, c := range []chan result{r50, r40, r60} {
		if r := recv(t, c); r.err != nil || r.ck.Meta.Index != 60 {
			t.Fatalf("Checkpoint = %+v, %v; want the registration of 60", r.ck, r.err)
		}
	}
}

// TestRequestTimeout: a node that never registers fails the request with
// ErrMakeTimeout after RequestTimeout.
func TestRequestTimeout(t *testing.T) {
	t.Parallel()
	s := newSource(t, Config{RequestTimeout: 50 * time.Millisecond})
	watchNode(t, s)
	start := time.Now()
	_, err := s.Checkpoint(context.Background(), filepath.Join(t.TempDir(), "x"), 5)
	if !errors.Is(err, source.ErrMakeTimeout) || !errors.Is(err, source.ErrMinIndex) {
		t.Fatalf("Checkpoint = %v, want ErrMakeTimeout", err)
	}
	if d := time.Since(start); d < 50*time.Millisecond {
		t.Fatalf("gave up after %v, before the timeout", d)
	}
}

// TestWatcherLeaves: a watcher that hangs up is removed: the next request
// finds no maker, or falls back to the configured Maker.
func TestWatcherLeaves(t *testing.T) {
	t.Parallel()
	var made atomic.Int32
	s := newSource(t, Config{})
	_, stop := watchNode(t, s)
	stop()
	if _, err := s.Checkpoint(context.Background(), filepath.Join(t.TempDir(), "x"), 5); !errors.Is(err, source.ErrNoMaker) {
		t.Fatalf("after the watcher left: %v, want ErrNoMaker", err)
	}
	s.cfg.Maker = makerFunc(func(_ context.Context, root string, _ uint64) (Made, error) {
		made.Add(1)
		return Made{Dir: makeCheckpoint(t, root, fmt.Sprint("m", made.Load())), Term: 1, Index: 5}, nil
	})
	if _, err := s.Checkpoint(context.Background(), filepath.Join(t.TempDir(), "y"), 5); err != nil || made.Load() != 1 {
		t.Fatalf("with a command and no watcher: %v, %d made", err, made.Load())
	}
}
