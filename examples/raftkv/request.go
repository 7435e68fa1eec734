package raftkv

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"connectrpc.com/connect"

	snapsyncv1 "github.com/snapsync/snapsync/proto/gen/snapsync/v1"
)

// rewatchWait is how long the node waits before opening the watch again
// after it failed (the sidecar restarting, say).
const rewatchWait = time.Second

// watchRequests keeps the sidecar's WatchCheckpointRequests open until ctx
// ends, answering each request with a fresh checkpoint.
func (f *fsm) watchRequests(ctx context.Context) {
	for ctx.Err() == nil {
		err := f.watchOnce(ctx)
		if ctx.Err() != nil {
			return
		}
		f.log.Warn().Err(err).Msg("watch checkpoint requests: opening it again")
		select {
		case <-ctx.Done():
		case <-time.After(rewatchWait):
		}
	}
}

func (f *fsm) watchOnce(ctx context.Context) error {
	stream, err := f.sidecar.WatchCheckpointRequests(ctx, connect.NewRequest(&snapsyncv1.WatchCheckpointRequestsRequest{}))
	if err != nil {
		return err
	}
	defer stream.Close() //nolint:errcheck // the stream's outcome is stream.Err.
	for stream.Receive() {
		req := stream.Msg().GetRequest()
		if err := f.answer(ctx, req); err != nil {
			f.log.Error().Err(err).Str("request_id", req.GetRequestId()).Msg("checkpoint request")
		}
	}
	if err := stream.Err(); err != nil {
		return err
	}
	return errors.New("the sidecar ended the watch")
}

// answer makes a checkpoint and registers it for req. The term and index
// are read before the checkpoint, so it reflects at least them: a follower
// that installs it skips the entries it already holds.
func (f *fsm) answer(ctx context.Context, req *snapsyncv1.CheckpointRequest) error {
	start := time.Now()
	term, index := f.term.Load(), f.index.Load()
	if index <= f.registered.Load() {
		return fmt.Errorf("applied index %d is not beyond the registered %d: nothing new to offer", index, f.registered.Load())
	}
	dir, err := f.checkpoint(index)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, registerTimeout)
	defer cancel()
	_, err = f.sidecar.RegisterCheckpoint(ctx, connect.NewRequest(&snapsyncv1.RegisterCheckpointRequest{
		Dir: dir, Term: term, Index: index, RequestId: req.GetRequestId(),
		Labels: map[string]string{"engine": "pebble", "app": "raftkv"},
	}))
	if err != nil {
		return errors.Join(fmt.Errorf("register checkpoint %s: %w", dir, err), os.RemoveAll(dir))
	}
	f.registered.Store(index)
	f.requested.Add(1)
	f.log.Info().Str("request_id", req.GetRequestId()).Uint64("min_index", req.GetMinIndex()).
		Uint64("index", index).Dur("took", time.Since(start)).Msg("checkpoint made on request")
	return nil
}
