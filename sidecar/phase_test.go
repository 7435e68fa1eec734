package sidecar

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	snapsyncv1 "github.com/snapsync/snapsync/proto/gen/snapsync/v1"
	"github.com/snapsync/snapsync/server"
	"github.com/snapsync/snapsync/source"
)

// slowSource is a source whose checkpoints take delay to make, as a leader
// whose checkpoint command flushes a large memtable.
type slowSource struct {
	source.Source
	delay time.Duration
}

func (s slowSource) Checkpoint(ctx context.Context, dir string, minIndex uint64) (source.Checkpoint, error) {
	select {
	case <-time.After(s.delay):
	case <-ctx.Done():
		return source.Checkpoint{}, context.Cause(ctx)
	}
	return s.Source.Checkpoint(ctx, dir, minIndex)
}

// TestPrepareHeartbeat: while the peer takes 5 s to make its checkpoint, the
// Prepare stream keeps sending progress in PHASE_WAITING_FOR_CHECKPOINT, and
// its phases then go forward to PHASE_STAGED. Time bounds the test only from
// above.
func TestPrepareHeartbeat(t *testing.T) {
	t.Parallel()
	const delay = 5 * time.Second
	ck := makeCheckpoint(t, 1<<20)
	p := startPeer(t, server.Config{Source: slowSource{Source: dirSource(t, ck, 1), delay: delay}})
	l := startLocal(t, InstallConfig{}, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	msgs, err := prepareMsgs(ctx, l, p.url, 1, filepath.Join(l.root, "db"))
	if err != nil {
		t.Fatal(err)
	}
	waiting := 0
	last := snapsyncv1.Phase_PHASE_UNSPECIFIED
	for _, m := range msgs {
		ph := m.GetProgress().GetPhase()
		if ph < last {
			t.Errorf("phase went back from %v to %v", last, ph)
		}
		last = ph
		if ph == snapsyncv1.Phase_PHASE_WAITING_FOR_CHECKPOINT {
			waiting++
		}
	}
	if waiting < 2 {
		t.Errorf("%d messages in PHASE_WAITING_FOR_CHECKPOINT during a %v checkpoint, want at least 2 (phases: %v)", waiting, delay, phasesOf(msgs))
	}
	if last != snapsyncv1.Phase_PHASE_STAGED || msgs[len(msgs)-1].GetPrepared() == nil {
		t.Errorf("last message %v, want PHASE_STAGED with the prepared snapshot", msgs[len(msgs)-1])
	}
}

// prepareMsgs runs a Prepare on l to its end and returns every message.
func prepareMsgs(ctx context.Context, l *local, source string, minIndex uint64, dest string) ([]*snapsyncv1.PrepareResponse, error) {
	return startPrepareErrCtx(ctx, l.client, source, minIndex, dest)
}

func phasesOf(msgs []*snapsyncv1.PrepareResponse) []snapsyncv1.Phase {
	out := make([]snapsyncv1.Phase, len(msgs))
	for i, m := range msgs {
		out[i] = m.GetProgress().GetPhase()
	}
	return out
}
