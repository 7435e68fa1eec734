package registry

import (
	"context"
	"fmt"
	"os"
)

// Maker makes a checkpoint on demand, for the registry to register like any
// other.
type Maker interface {
	// Make makes a checkpoint under root reflecting at least minIndex where
	// it can, and says where it is and what it reflects.
	Make(ctx context.Context, root string, minIndex uint64) (Made, error)
}

// Made is a checkpoint a Maker made: a directory under the registry's root
// and the term, index and labels it reflects.
type Made struct {
	Dir    string
	Term   uint64
	Index  uint64
	Labels map[string]string
	// Registered says the checkpoint is registered already (a node asked
	// over Watch registered it itself): the registry does not register it
	// again.
	Registered bool
}

// make asks the watching nodes, else the configured Maker, for a checkpoint
// and registers it. A watching node's failure to answer is
// source.ErrMakeTimeout; every failure of the configured Maker wraps
// ErrRejected; with neither, it fails with source.ErrNoMaker.
func (s *Source) make(ctx context.Context, minIndex uint64) error {
	var maker Maker = s.reqs
	if !s.reqs.watching() && s.cfg.Maker != nil {
		maker = s.cfg.Maker
	}
	m, err := maker.Make(ctx, s.root, minIndex)
	switch {
	case err != nil && maker == s.reqs:
		return err
	case err != nil:
		return fmt.Errorf("%w: %w", ErrRejected, err)
	case m.Registered:
		return nil
	}
	if m.Dir == "" {
		return fmt.Errorf("%w: the checkpoint maker named no dir", ErrRejected)
	}
	if e := s.current(); e != nil && m.Index < minIndex && m.Index <= e.meta.Index {
		// The maker could do no better than what is registered: the caller
		// is told the index is not reached (Checkpoint's MinIndexError with
		// the newest index), not that the maker failed. Its copy goes.
		if abs, err := s.validate(ctx, m.Dir); err == nil {
			_ = os.RemoveAll(abs) // best effort: a leftover under the root is only disk
		}
		return nil
	}
	return s.Register(ctx, m.Dir, m.Term, m.Index, m.Labels)
}
