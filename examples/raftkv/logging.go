package raftkv

import (
	"bytes"
	"fmt"
	"sync"

	"github.com/cockroachdb/pebble/v2"
	"github.com/rs/zerolog"
)

// pebbleLogger sends Pebble's log to a zerolog.Logger.
type pebbleLogger struct{ log zerolog.Logger }

var _ pebble.Logger = pebbleLogger{}

func (l pebbleLogger) Infof(format string, args ...any) {
	l.log.Debug().Str("from", "pebble").Msgf(format, args...)
}

func (l pebbleLogger) Errorf(format string, args ...any) {
	l.log.Error().Str("from", "pebble").Msgf(format, args...)
}

// Fatalf logs and panics: Pebble calls it on corruption it cannot go past,
// and a library must not exit the process.
func (l pebbleLogger) Fatalf(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	l.log.WithLevel(zerolog.FatalLevel).Str("from", "pebble").Msg(msg)
	panic("pebble: " + msg)
}

// raftLog is the io.Writer Raft's hclog logger writes lines to; it sends each
// line to a zerolog.Logger at the level hclog put in it.
type raftLog struct {
	log zerolog.Logger
	mu  sync.Mutex
	buf []byte
}

func (w *raftLog) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf = append(w.buf, p...)
	for {
		i := bytes.IndexByte(w.buf, '\n')
		if i < 0 {
			return len(p), nil
		}
		w.line(w.buf[:i])
		w.buf = w.buf[i+1:]
	}
}

// line logs one hclog line ("TIME [LEVEL]  raft: msg: k=v"), dropping its
// timestamp.
func (w *raftLog) line(b []byte) {
	level := zerolog.InfoLevel
	if i := bytes.IndexByte(b, '['); i >= 0 {
		if j := bytes.IndexByte(b[i:], ']'); j > 0 {
			level = hclogLevel(string(b[i+1 : i+j]))
			b = b[i+j+1:]
		}
	}
	w.log.WithLevel(level).Str("from", "raft").Msg(string(bytes.TrimSpace(b)))
}

// hclogLevel maps hclog's level names to zerolog's.
func hclogLevel(name string) zerolog.Level {
	switch name {
	case "TRACE":
		return zerolog.TraceLevel
	case "DEBUG":
		return zerolog.DebugLevel
	case "WARN":
		return zerolog.WarnLevel
	case "ERROR":
		return zerolog.ErrorLevel
	default:
		return zerolog.InfoLevel
	}
}
