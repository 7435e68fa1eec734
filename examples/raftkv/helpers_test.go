package raftkv

import (
	"bytes"
	"sync"
	"testing"

	"github.com/rs/zerolog"
)

// testLog is a zerolog writer into tb.Log that goes quiet once the test ends,
// so goroutines still logging (Raft's) do not log into a finished test.
type testLog struct {
	tb   testing.TB
	mu   sync.Mutex
	done bool
}

func (w *testLog) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.done {
		w.tb.Log(string(bytes.TrimRight(p, "\n")))
	}
	return len(p), nil
}

// testLogger returns a logger into tb's log, tagged with name.
func testLogger(tb testing.TB, name string) zerolog.Logger {
	tb.Helper()
	w := &testLog{tb: tb}
	tb.Cleanup(func() {
		w.mu.Lock()
		w.done = true
		w.mu.Unlock()
	})
	out := zerolog.ConsoleWriter{Out: w, NoColor: true, TimeFormat: "15:04:05"}
	return zerolog.New(out).Level(zerolog.InfoLevel).With().Timestamp().Str("node", name).Logger()
}

// unreachable is a URL no sidecar listens on: calls to it fail at once.
const unreachable = "http://127.0.0.1:1"
