package server

import (
	"context"
	"time"

	"github.com/snapsync/snapsync/source"
)

// probe is what Probe answers: the newest index the server could grant
// now, without a lease or a checkpoint.
func (s *Server) probe(ctx context.Context) (source.Newest, error) {
	var n source.Newest
	if p, ok := s.cfg.Source.(source.Prober); ok {
		var err error
		if n, err = p.Newest(ctx); err != nil {
			return source.Newest{}, err
		}
	}
	if term, index, engine, ok := s.catalog.newest(s.cfg.Clock.Now()); ok && index > n.Index {
		n.Term, n.Index, n.Engine = term, index, engine
	}
	return n, nil
}

// newest returns the term, index and engine of the held, unbroken checkpoint
// with the highest index.
func (c *catalog) newest(now time.Time) (term, index uint64, engine string, ok bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, e := range c.byID {
		if e.broken || !e.held(now) || (ok && e.lay.meta.Index <= index) {
			continue
		}
		term, index, engine, ok = e.lay.meta.Term, e.lay.meta.Index, e.lay.meta.Engine, true
	}
	return term, index, engine, ok
}
