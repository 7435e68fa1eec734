package stall

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"
)

const limit = time.Minute

// peer is a real HTTP server on 127.0.0.1 whose handler does what each step
// sent on its channel says: a string is written and flushed, nil ends the
// response.
type peer struct {
	url   string
	steps chan *string
	asked chan struct{} // a request arrived
}

func newPeer(tb testing.TB) *peer {
	tb.Helper()
	p := &peer{steps: make(chan *string), asked: make(chan struct{}, 1)}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p.asked <- struct{}{}
		for {
			select {
			case s := <-p.steps:
				if s == nil {
					return
				}
				_, _ = io.WriteString(w, *s) // a client gone is what some cases test
				w.(http.Flusher).Flush()
			case <-r.Context().Done():
				return
			}
		}
	}))
	tb.Cleanup(srv.Close)
	p.url = srv.URL
	return p
}

func (p *peer) send(s string) { p.steps <- &s }

func client(fc *clockwork.FakeClock) *http.Client {
	return &http.Client{Transport: &Transport{Base: http.DefaultTransport, Limit: limit, Clock: fc}}
}

// get starts a GET and returns its outcome: the response or the error.
func get(hc *http.Client, url string) chan any {
	out := make(chan any, 1)
	go func() {
		res, err := hc.Get(url)
		if err != nil {
			out <- err
			return
		}
		out <- res
	}()
	return out
}

func TestNoHeaders(t *testing.T) {
	t.Parallel()
	fc, p := clockwork.NewFakeClock(), newPeer(t)
	out := get(client(fc), p.url)
	<-p.asked
	fc.Advance(limit - time.Second)
	select {
	case v := <-out:
		t.Fatalf("ended before the limit: %v", v)
	case <-time.After(50 * time.Millisecond): // nothing may happen: a negative check
	}
	fc.Advance(time.Second)
	err, _ := (<-out).(error)
	if !errors.Is(err, ErrStalled) {
		t.Fatalf("err %v, want ErrStalled", err)
	}
	if !strings.Contains(err.Error(), "1m0s") {
		t.Fatalf("error %q does not say the limit", err)
	}
}

// response starts a GET whose peer sends headers and first, and returns the
// response once the client has it.
func response(t *testing.T, fc *clockwork.FakeClock, p *peer, first string) *http.Response {
	t.Helper()
	out := get(client(fc), p.url)
	<-p.asked
	p.send(first)
	res, ok := (<-out).(*http.Response)
	if !ok {
		t.Fatal("no response")
	}
	t.Cleanup(func() { res.Body.Close() })
	return res
}

// readErr reads the rest of body in the background.
func readErr(body io.Reader) chan error {
	out := make(chan error, 1)
	go func() {
		_, err := io.Copy(io.Discard, body)
		out <- err
	}()
	return out
}

func TestSilenceAfterHeaders(t *testing.T) {
	t.Parallel()
	fc, p := clockwork.NewFakeClock(), newPeer(t)
	res := response(t, fc, p, "x")
	buf := make([]byte, 1)
	if _, err := io.ReadFull(res.Body, buf); err != nil {
		t.Fatal(err)
	}
	done := readErr(res.Body)
	fc.Advance(limit)
	if err := <-done; !errors.Is(err, ErrStalled) {
		t.Fatalf("err %v, want ErrStalled", err)
	}
}

func TestDrip(t *testing.T) {
	t.Parallel()
	fc, p := clockwork.NewFakeClock(), newPeer(t)
	res := response(t, fc, p, "x")
	buf := make([]byte, 1)
	// A byte every 10 s for a minute: 6 bytes, far below MinBytes.
	for range 5 {
		if _, err := io.ReadFull(res.Body, buf); err != nil {
			t.Fatal(err)
		}
		fc.Advance(10 * time.Second)
		p.send("x")
	}
	if _, err := io.ReadFull(res.Body, buf); err != nil {
		t.Fatal(err)
	}
	done := readErr(res.Body)
	fc.Advance(10 * time.Second)
	if err := <-done; !errors.Is(err, ErrStalled) {
		t.Fatalf("a drip was not cut: %v", err)
	}
}

func TestSlowButMoving(t *testing.T) {
	t.Parallel()
	fc, p := clockwork.NewFakeClock(), newPeer(t)
	res := response(t, fc, p, "")
	block := strings.Repeat("y", DefaultMinBytes)
	buf := make([]byte, DefaultMinBytes)
	// MinBytes every 59 s, for ten minutes: never cut.
	for range 10 {
		p.send(block)
		if _, err := io.ReadFull(res.Body, buf); err != nil {
			t.Fatalf("cut while moving: %v", err)
		}
		fc.Advance(limit - time.Second)
	}
	p.steps <- nil
	if err := <-readErr(res.Body); err != nil {
		t.Fatalf("end: %v", err)
	}
}

func TestDoneStopsWatchdog(t *testing.T) {
	t.Parallel()
	fc, p := clockwork.NewFakeClock(), newPeer(t)
	res := response(t, fc, p, "whole answer")
	p.steps <- nil
	b, err := io.ReadAll(res.Body)
	if err != nil || string(b) != "whole answer" {
		t.Fatalf("read %q, %v", b, err)
	}
	fc.Advance(10 * limit) // nothing left to cancel
	if err := res.Body.Close(); err != nil {
		t.Fatal(err)
	}
}
