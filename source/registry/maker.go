package registry

import (
	"context"
	"fmt"
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
}

// make asks the Maker for a checkpoint and registers it; every failure
// wraps ErrRejected.
func (s *Source) make(ctx context.Context, minIndex uint64) error {
	m, err := s.cfg.Maker.Make(ctx, s.root, minIndex)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrRejected, err)
	}
	if m.Dir == "" {
		return fmt.Errorf("%w: the checkpoint maker named no dir", ErrRejected)
	}
	return s.Register(ctx, m.Dir, m.Term, m.Index, m.Labels)
}
