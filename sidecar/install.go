package sidecar

import (
	"context"
	"fmt"
	"sync"

	"github.com/rs/zerolog"

	"github.com/snapsync/snapsync/client"
	snapsyncv1 "github.com/snapsync/snapsync/proto/gen/snapsync/v1"
	"github.com/snapsync/snapsync/proto/gen/snapsync/v1/snapsyncv1connect"
)

// InstallService is the local InstallService: it brings peers' checkpoints
// into destinations under the allowed roots, one state machine per
// destination. It is safe for concurrent use.
type InstallService struct {
	cfg   InstallConfig
	roots roots
	log   zerolog.Logger

	ctx    context.Context // parent of every background Prepare and Commit; cancelled by Close
	cancel context.CancelCauseFunc
	wg     sync.WaitGroup // background Prepares, Commits and Aborts

	mu     sync.Mutex // guards closed, dests and every destState
	closed bool
	dests  map[string]*destState
}

var _ snapsyncv1connect.InstallServiceHandler = (*InstallService)(nil)

// destState is the state machine of one destination.
type destState struct {
	path  string
	state snapsyncv1.InstallState
	// run is the running Prepare, or the one that prepared what is staged;
	// nil after Commit or Abort.
	run *run
	// prepared is the staged snapshot, in PREPARED.
	prepared *client.Prepared
	// committed is the last Commit's result, returned to a repeated Commit.
	committed *client.Result
	// err is why the last Prepare, Commit or Abort failed.
	err error
	// tail is closed when the last operation started on the staging area has
	// ended: the next one waits for it, so they never contend for its lock.
	tail <-chan struct{}
}

// NewInstallService validates cfg and returns the service. Close it to stop
// what runs in the background.
func NewInstallService(cfg InstallConfig) (*InstallService, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	rs := make(roots, 0, len(cfg.AllowedRoots))
	for _, r := range cfg.AllowedRoots {
		abs, err := resolveRoot(r) // Validate has checked it; it may have gone since
		if err != nil {
			return nil, err
		}
		rs = append(rs, abs)
	}
	if cfg.Client.Metrics == nil {
		cfg.Client.Metrics = cfg.Metrics
	}
	if err := cfg.Metrics.WatchFreeSpace(rs); err != nil {
		return nil, fmt.Errorf("metrics: %w", err)
	}
	if cfg.Client.HTTPClient == nil {
		cfg.Client.HTTPClient = client.NewHTTPClient() // shared, so connections are reused
	}
	s := &InstallService{cfg: cfg, roots: rs, log: cfg.Logger.With().Str("component", "install").Logger(),
		dests: make(map[string]*destState)}
	s.ctx, s.cancel = context.WithCancelCause(context.Background())
	return s, nil
}

// Close stops every running Prepare (its streams end with ErrClosed), waits
// for it and for any Commit under way, and refuses further calls. What is
// staged stays for the next service.
func (s *InstallService) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	s.mu.Unlock()
	s.cancel(ErrClosed)
	s.wg.Wait()
	return nil
}

// dest returns the state machine of a resolved destination; on the first
// use of dest since the service started, as its record on disk has it
// (reload). s.mu must be held.
func (s *InstallService) dest(path string) *destState {
	d := s.dests[path]
	if d == nil {
		d = s.reload(path)
		s.dests[path] = d
	}
	return d
}

// clientConfig is the template with dest filled in.
func (s *InstallService) clientConfig(dest string) client.Config {
	c := s.cfg.Client
	c.Dest, c.Within = dest, s.roots.within(dest)
	c.Logger = s.cfg.Logger.With().Str("dest", dest).Logger()
	if s.cfg.Staged != nil { // what the install verifies and stages, the peer listener serves by digest
		c.OnChunkStaged = s.cfg.Staged.Add
	}
	return c
}
