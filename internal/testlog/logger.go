package testlog

import (
	"testing"

	"github.com/rs/zerolog"
)

// Logger is a zerolog logger writing warnings and errors to tb's log, as
// the servers, clients and sidecars under test log.
func Logger(tb testing.TB) zerolog.Logger {
	return zerolog.New(zerolog.NewTestWriter(tb)).Level(zerolog.WarnLevel)
}
