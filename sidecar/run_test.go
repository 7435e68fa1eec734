package sidecar

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/snapsync/snapsync/client"
	"github.com/snapsync/snapsync/internal/testwait"
	snapsyncv1 "github.com/snapsync/snapsync/proto/gen/snapsync/v1"
)

// recorder is a Prepare stream's send that records messages and can be
// held at its first message.
type recorder struct {
	mu    sync.Mutex
	msgs  []*snapsyncv1.PrepareResponse
	hold  chan struct{} // nil: never held
	first chan struct{} // closed at the first message
	once  sync.Once
}

func newRecorder(hold bool) *recorder {
	r := &recorder{first: make(chan struct{})}
	if hold {
		r.hold = make(chan struct{})
	}
	return r
}

func (r *recorder) send(m *snapsyncv1.PrepareResponse) error {
	r.mu.Lock()
	r.msgs = append(r.msgs, m)
	r.mu.Unlock()
	r.once.Do(func() { close(r.first) })
	if r.hold != nil {
		<-r.hold
	}
	return nil
}

func (r *recorder) messages() []*snapsyncv1.PrepareResponse {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]*snapsyncv1.PrepareResponse(nil), r.msgs...)
}

// waitMessages waits until rec has recorded n messages.
func waitMessages(tb testing.TB, rec *recorder, n int) []*snapsyncv1.PrepareResponse {
	tb.Helper()
	var msgs []*snapsyncv1.PrepareResponse
	testwait.Eventually(tb, waitLimit, func() (bool, string) {
		msgs = rec.messages()
		return len(msgs) >= n, fmt.Sprintf("%d messages, want %d", len(msgs), n)
	})
	return msgs
}

// TestFollowFanOut: a stream stuck on the network neither blocks the fetch's
// progress reports nor the other streams, and skips to the latest figures
// and the result once it moves again. Nothing here is timed: how fast
// publish is, BenchmarkPublish measures.
func TestFollowFanOut(t *testing.T) {
	t.Parallel()
	r := newRun([]string{"http://leader"}, 1, func(error) {})
	slow, fast := newRecorder(true), newRecorder(false)
	ends := make([]chan error, 2)
	for i, rec := range []*recorder{slow, fast} {
		ends[i] = make(chan error, 1)
		go func() { ends[i] <- follow(context.Background(), r, rec.send) }()
	}
	<-slow.first
	const updates = 10000
	published := make(chan struct{})
	go func() {
		defer close(published)
		for i := 1; i <= updates; i++ {
			r.publish(client.Progress{BytesDone: int64(i), BytesTotal: updates})
		}
	}()
	select {
	case <-published:
	case <-time.After(waitLimit):
		t.Fatal("publish blocked on the stream held at its first message")
	}
	close(slow.hold) // the slow stream moves again: it sends the latest figures only
	if msgs := waitMessages(t, slow, 2); msgs[1].GetProgress().GetBytesDone() != updates {
		t.Fatalf("slow stream sent %v after it moved again, want the latest figures", msgs[1])
	}
	r.res = client.Prepared{Result: client.Result{Index: 7, BytesTotal: updates}}
	close(r.done)
	for i, name := range []string{"slow", "fast"} {
		select {
		case err := <-ends[i]:
			if err != nil {
				t.Fatalf("%s stream: %v", name, err)
			}
		case <-time.After(waitLimit):
			t.Fatalf("the %s stream did not end with the run", name)
		}
	}
	if msgs := slow.messages(); len(msgs) != 3 {
		t.Fatalf("slow stream got %d messages, want first, latest and result: %v", len(msgs), msgs)
	}
	for name, rec := range map[string]*recorder{"slow": slow, "fast": fast} {
		checkFollowed(t, name, rec.messages(), 7, updates)
	}
}

// checkFollowed checks what a stream sent: progress figures that only move
// forward, never the same twice in a row, then the result.
func checkFollowed(tb testing.TB, name string, msgs []*snapsyncv1.PrepareResponse, index, total uint64) {
	tb.Helper()
	last := msgs[len(msgs)-1]
	if last.GetPrepared().GetIndex() != index || last.GetProgress().GetBytesDone() != total {
		tb.Fatalf("%s stream ended with %v, want the result", name, last)
	}
	var prev uint64
	for i, m := range msgs[:len(msgs)-1] {
		if m.GetPrepared() != nil {
			tb.Fatalf("%s stream: message %d of %d is a result", name, i, len(msgs))
		}
		done := m.GetProgress().GetBytesDone()
		if i > 0 && done <= prev {
			tb.Fatalf("%s stream: message %d reports %d bytes done after %d", name, i, done, prev)
		}
		prev = done
	}
}

// BenchmarkPublish measures what a fetch's progress report costs the fetch,
// with no stream following the run and with a fast one and one stuck on the
// network. followed-msgs/op is the share of reports the fast stream sent.
func BenchmarkPublish(b *testing.B) {
	b.Run("unfollowed", func(b *testing.B) {
		r := newRun([]string{"http://leader"}, 1, func(error) {})
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			r.publish(client.Progress{BytesDone: int64(i)})
		}
	})
	b.Run("fast-and-stuck-streams", func(b *testing.B) {
		r := newRun([]string{"http://leader"}, 1, func(error) {})
		slow, fast := newRecorder(true), newRecorder(false)
		ends := make(chan error, 2)
		for _, rec := range []*recorder{slow, fast} {
			go func() { ends <- follow(context.Background(), r, rec.send) }()
		}
		<-slow.first
		b.ReportAllocs()
		n := 0
		for i := 0; b.Loop(); i++ {
			r.publish(client.Progress{BytesDone: int64(i + 1)})
			n++
		}
		b.StopTimer()
		close(r.done)
		close(slow.hold)
		for range 2 {
			if err := <-ends; err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(len(fast.messages()))/float64(n), "followed-msgs/op")
	})
}

// TestFollowEnds: a stream ends with the run's error, or with its own
// context's cause while the run goes on.
func TestFollowEnds(t *testing.T) {
	t.Parallel()
	r := newRun([]string{"http://leader"}, 1, func(error) {})
	ctx, cancel := context.WithCancelCause(context.Background())
	gone := errors.New("node went away")
	cancel(gone)
	if err := follow(ctx, r, newRecorder(false).send); !errors.Is(err, gone) {
		t.Fatalf("follow after its caller went away: %v", err)
	}
	if r.finished() {
		t.Fatal("the run ended with its follower")
	}
	r.err = ErrSuperseded
	close(r.done)
	rec := newRecorder(false)
	if err := follow(context.Background(), r, rec.send); !errors.Is(err, ErrSuperseded) {
		t.Fatalf("follow of a superseded run: %v", err)
	}
	if n := len(rec.messages()); n != 0 {
		t.Fatalf("follow of a finished run sent %d progress messages", n)
	}
}
