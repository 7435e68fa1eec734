package raftkv

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"connectrpc.com/connect"
	"github.com/hashicorp/raft"

	snapsyncv1 "github.com/snapsync/snapsync/proto/gen/snapsync/v1"
)

// registerTimeout bounds the RegisterCheckpoint call of one snapshot.
const registerTimeout = 30 * time.Second

// pointerSnapshot is a Raft snapshot whose content is only a Pointer to a
// checkpoint the local sidecar serves. Raft calls Persist then Release from
// one goroutine, concurrently with Apply.
type pointerSnapshot struct {
	f          *fsm
	ptr        Pointer
	dir        string // the checkpoint; empty when nothing was applied
	registered bool   // the sidecar owns dir now
}

var _ raft.FSMSnapshot = (*pointerSnapshot)(nil)

// Persist registers the checkpoint with the sidecar, then writes the pointer.
func (s *pointerSnapshot) Persist(sink raft.SnapshotSink) error {
	if err := s.persist(sink); err != nil {
		return errors.Join(err, sink.Cancel())
	}
	return nil
}

func (s *pointerSnapshot) persist(sink raft.SnapshotSink) error {
	if s.dir != "" {
		ctx, cancel := context.WithTimeout(s.f.ctx, registerTimeout)
		defer cancel()
		if err := s.register(ctx); err != nil {
			return err
		}
	}
	b, err := s.ptr.Encode()
	if err != nil {
		return err
	}
	if _, err := sink.Write(b); err != nil {
		return fmt.Errorf("write pointer: %w", err)
	}
	if err := sink.Close(); err != nil {
		return fmt.Errorf("close snapshot sink: %w", err)
	}
	return nil
}

// register offers the checkpoint to the local sidecar, which from then on
// owns its directory and removes it once superseded.
func (s *pointerSnapshot) register(ctx context.Context) error {
	resp, err := s.f.sidecar.RegisterCheckpoint(ctx, connect.NewRequest(&snapsyncv1.RegisterCheckpointRequest{
		Dir: s.dir, Term: s.ptr.Term, Index: s.ptr.Index,
		Labels: map[string]string{"engine": "pebble", "app": "raftkv"},
	}))
	if err != nil {
		return fmt.Errorf("register checkpoint %s: %w", s.dir, err)
	}
	s.registered = true
	s.f.registered.Store(s.ptr.Index)
	s.f.log.Info().Uint64("index", s.ptr.Index).Uint32("registered", resp.Msg.GetRegistered()).
		Msg("checkpoint registered")
	return nil
}

// Release removes a checkpoint the sidecar never took; a registered one is
// the sidecar's to remove.
func (s *pointerSnapshot) Release() {
	if s.dir == "" || s.registered {
		return
	}
	if err := os.RemoveAll(s.dir); err != nil {
		s.f.log.Error().Err(err).Str("dir", s.dir).Msg("remove unregistered checkpoint")
	}
}
