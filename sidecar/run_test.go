package sidecar

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/snapsync/snapsync/client"
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

// TestFollowFanOut: a stream stuck on the network neither blocks the fetch's
// progress reports nor the other streams, and skips to the latest figures
// and the result once it moves again.
func TestFollowFanOut(t *testing.T) {
	t.Parallel()
	r := newRun("http://leader", 1, func(error) {})
	slow, fast := newRecorder(true), newRecorder(false)
	ends := make([]chan error, 2)
	for i, rec := range []*recorder{slow, fast} {
		ends[i] = make(chan error, 1)
		go func() { ends[i] <- follow(context.Background(), r, rec.send) }()
	}
	<-slow.first
	start := time.Now()
	const updates = 100000
	for i := 1; i <= updates; i++ {
		r.publish(client.Progress{BytesDone: int64(i), BytesTotal: updates})
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("publishing %d updates took %v: a slow stream held the fetch up", updates, d)
	}
	r.res = client.Prepared{Result: client.Result{Index: 7, BytesTotal: updates}}
	close(r.done)
	select {
	case err := <-ends[1]:
		if err != nil {
			t.Fatalf("fast stream: %v", err)
		}
	case <-time.After(waitLimit):
		t.Fatal("the fast stream waited for the slow one")
	}
	close(slow.hold)
	if err := <-ends[0]; err != nil {
		t.Fatalf("slow stream: %v", err)
	}
	for name, rec := range map[string]*recorder{"slow": slow, "fast": fast} {
		msgs := rec.messages()
		last := msgs[len(msgs)-1]
		if last.GetPrepared().GetIndex() != 7 || last.GetProgress().GetBytesDone() != updates {
			t.Fatalf("%s stream ended with %v", name, last)
		}
		if len(msgs) > updates/10 {
			t.Fatalf("%s stream got %d messages for %d updates: nothing skipped", name, len(msgs), updates)
		}
	}
	if n := len(slow.messages()); n > 3 {
		t.Fatalf("slow stream got %d messages, want at most first, latest and result", n)
	}
}

// TestFollowEnds: a stream ends with the run's error, or with its own
// context's cause while the run goes on.
func TestFollowEnds(t *testing.T) {
	t.Parallel()
	r := newRun("http://leader", 1, func(error) {})
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
