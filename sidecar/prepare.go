package sidecar

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/snapsync/snapsync/client"
	snapsyncv1 "github.com/snapsync/snapsync/proto/gen/snapsync/v1"
)

// prepare returns the run a Prepare for dest follows: the running one when
// it is from the same sources and will reach minIndex, the finished one when
// what it staged reaches minIndex, else a new one, which supersedes a running
// Prepare from other sources or for a lower index. A Prepare with another
// replace list (PrepareRequest.replace) is a new one too.
func (s *InstallService) prepare(dest string, sources, chunkSources []string, minIndex uint64, replace ...string) (*run, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, false, ErrClosed
	}
	d := s.dest(dest)
	switch d.state {
	case snapsyncv1.InstallState_INSTALL_STATE_COMMITTING:
		return nil, false, fmt.Errorf("%w for %s", ErrCommitting, dest)
	case snapsyncv1.InstallState_INSTALL_STATE_PREPARING:
		if d.run.satisfies(sources, minIndex, replace) {
			return d.run, true, nil
		}
		s.log.Info().Str("dest", dest).Strs("old_sources", d.run.sources).Uint64("old_min_index", d.run.minIndex).
			Strs("sources", sources).Uint64("min_index", minIndex).Msg("prepare superseded")
		d.run.cancel(fmt.Errorf("%w by a Prepare from %s with min_index %d", ErrSuperseded, strings.Join(sources, ","), minIndex))
	case snapsyncv1.InstallState_INSTALL_STATE_PREPARED:
		if d.prepared.Index >= minIndex && slices.Equal(d.run.replace, replace) {
			return d.run, true, nil
		}
	}
	return s.start(d, sources, chunkSources, minIndex, replace), false, nil
}

// start begins a Prepare in the background, after whatever the staging area
// is still busy with. s.mu must be held.
func (s *InstallService) start(d *destState, sources, chunkSources []string, minIndex uint64, replace []string) *run {
	ctx, cancel := context.WithCancelCause(s.ctx)
	r := newRun(sources, minIndex, cancel)
	r.chunkSources = chunkSources
	r.replace, r.started = replace, time.Now()
	prev := d.tail
	d.tail = r.done
	d.run, d.state, d.prepared, d.err = r, snapsyncv1.InstallState_INSTALL_STATE_PREPARING, nil, nil
	s.wg.Add(1)
	go s.execute(ctx, d, r, prev)
	return r
}

// execute runs r to its end and moves d on, unless r was superseded or
// aborted, then releases r's followers.
func (s *InstallService) execute(ctx context.Context, d *destState, r *run, prev <-chan struct{}) {
	defer s.wg.Done()
	s.log.Info().Str("dest", d.path).Strs("sources", r.sources).Uint64("min_index", r.minIndex).Msg("prepare started")
	res, err := s.prepareAfter(ctx, d.path, r, prev)
	if err != nil && ctx.Err() != nil {
		err = context.Cause(ctx) // superseded, aborted or closed: say so, not "canceled"
	}
	r.res, r.err = res, err
	s.mu.Lock()
	current := d.run == r
	if current {
		if err != nil {
			d.state, d.err = snapsyncv1.InstallState_INSTALL_STATE_FAILED, err
		} else {
			d.state, d.prepared = snapsyncv1.InstallState_INSTALL_STATE_PREPARED, &res
		}
	}
	s.mu.Unlock()
	// Before r's followers start: the next operation's record comes after.
	// A Prepare Close stopped stays PREPARING on disk: the next service
	// reports that it was cut short by the restart (ErrRestarted).
	switch {
	case !current || errors.Is(err, ErrClosed):
	case err != nil:
		s.saveRecord(d.path, r.record(recFailed, err))
	default:
		s.saveRecord(d.path, r.record(recPrepared, nil))
	}
	close(r.done)
	r.cancel(nil) // release the context's resources
	s.auditInstall(d.path, r, res, err)
}

// prepareAfter waits for prev, then runs client.Prepare with r's progress.
func (s *InstallService) prepareAfter(ctx context.Context, dest string, r *run, prev <-chan struct{}) (client.Prepared, error) {
	if prev != nil {
		select {
		case <-prev:
		case <-ctx.Done():
			return client.Prepared{}, context.Cause(ctx)
		}
	}
	s.saveRecord(dest, r.record(recPreparing, nil))
	cfg := s.clientConfig(dest)
	cfg.Progress, cfg.Replace = r.publish, r.replace
	cfg.ChunkSources = slices.Clone(cfg.ChunkSources) // the template's, the configured ones (serve --install-chunks-from), then the request's
	if open := s.cfg.ChunkSources; open != nil {
		srcs, closeSrcs := open(ctx)
		defer closeSrcs()
		cfg.ChunkSources = append(cfg.ChunkSources, srcs...)
	}
	for _, u := range r.chunkSources {
		cfg.ChunkSources = append(cfg.ChunkSources, client.ChunkSource{Name: u, URL: u})
	}
	return client.PrepareFrom(ctx, r.sources, r.minIndex, cfg)
}

// heartbeatEvery is the longest a Prepare stream stays silent: the latest
// progress is sent again when nothing changed for that long (the peer making
// a checkpoint, the client hashing the local DB), so the node tells a slow
// phase from a stuck sidecar. The documented bound is 2 s.
const heartbeatEvery = time.Second

// follow streams r's progress, skipping figures the stream is too slow for
// and repeating the latest every heartbeatEvery, then the prepared snapshot
// or r's error. It returns when ctx is done; r goes on.
func follow(ctx context.Context, r *run, send func(*snapsyncv1.PrepareResponse) error) error {
	var last client.Progress
	first := true
	heartbeat := time.NewTicker(heartbeatEvery)
	defer heartbeat.Stop()
	beat := false
	for !r.finished() {
		p, changed := r.latest()
		if first || beat || p != last {
			msg := &snapsyncv1.PrepareResponse{Progress: progressMsg(snapsyncv1.InstallState_INSTALL_STATE_PREPARING, p)}
			if err := send(msg); err != nil {
				return fmt.Errorf("send progress: %w", err)
			}
			first, last = false, p
			heartbeat.Reset(heartbeatEvery)
		}
		beat = false
		select {
		case <-r.done:
		case <-changed:
		case <-heartbeat.C:
			beat = true
		case <-ctx.Done():
			return context.Cause(ctx)
		}
	}
	if r.err != nil {
		return r.err
	}
	msg := &snapsyncv1.PrepareResponse{
		Progress: resultProgress(snapsyncv1.InstallState_INSTALL_STATE_PREPARED, r.res.Result),
		Prepared: infoMsg(r.res.Result),
	}
	if err := send(msg); err != nil {
		return fmt.Errorf("send prepared: %w", err)
	}
	return nil
}
