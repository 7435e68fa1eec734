package server

import (
	"context"
	"time"

	"connectrpc.com/connect"

	snapsyncv1 "github.com/snapsync/snapsync/proto/gen/snapsync/v1"
	"github.com/snapsync/snapsync/source"
)

// Probe tells the newest index the server could grant now: the newest
// checkpoint of the catalog or what the source reports (a source.Prober),
// whichever is higher. It takes no lease and makes no checkpoint.
func (h *handler) Probe(ctx context.Context, req *connect.Request[snapsyncv1.ProbeRequest]) (*connect.Response[snapsyncv1.ProbeResponse], error) {
	s := h.s
	n, err := s.probe(ctx)
	if err != nil {
		s.log.Warn().Err(err).Str("client", req.Msg.GetClient()).Str("peer", req.Peer().Addr).Msg("probe")
		return nil, err
	}
	return connect.NewResponse(&snapsyncv1.ProbeResponse{NewestIndex: n.Index, NewestTerm: n.Term,
		CanMakeCheckpoint: n.OnDemand, Engine: n.Engine}), nil
}

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
		if e.broken || !e.held(now) || (ok && e.man.Meta.Index <= index) {
			continue
		}
		term, index, engine, ok = e.man.Meta.Term, e.man.Meta.Index, e.man.Meta.Engine, true
	}
	return term, index, engine, ok
}
