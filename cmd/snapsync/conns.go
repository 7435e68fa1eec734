package main

import (
	"fmt"
	"strings"

	"connectrpc.com/grpchealth"
	"github.com/rs/zerolog"
	"github.com/spf13/pflag"

	"github.com/snapsync/snapsync/internal/connlimit"
	"github.com/snapsync/snapsync/metrics"
)

// connFlags configure the cap on the connections of serve's listeners.
type connFlags struct {
	maxConns int
}

func (f *connFlags) add(fl *pflag.FlagSet) {
	fl.IntVar(&f.maxConns, "max-conns", 0,
		"cap on open connections over the peer, local and metrics listeners; a quarter is kept for connections "+
			"that passed authentication (0: half the open-file limit, at most 4096)")
}

// limiter returns the cap shared by serve's listeners, its state watched
// by m (when not nil); refusals are audited to log.
func (f *connFlags) limiter(m *metrics.Metrics, log zerolog.Logger) (*connlimit.Limiter, error) {
	lim, err := connlimit.New(connlimit.Config{Max: f.maxConns, Logger: log})
	if err != nil {
		return nil, fmt.Errorf("--max-conns %d: %w", f.maxConns, err)
	}
	err = m.WatchConns(func() metrics.ConnState {
		s := lim.Stats()
		return metrics.ConnState{Max: s.Max, Reserve: s.Reserve, Authenticated: s.Authenticated,
			Unauthenticated: s.Unauthenticated, Refused: s.Refused}
	})
	if err != nil {
		return nil, fmt.Errorf("metrics: %w", err)
	}
	s := lim.Stats()
	log.Info().Int("max_conns", s.Max).Int("reserved", s.Reserve).Msg("connection cap")
	return lim, nil
}

// isHealthCheck names the gRPC health check, open to every caller.
func isHealthCheck(path string) bool {
	return strings.HasPrefix(path, "/"+grpchealth.HealthV1ServiceName+"/")
}
