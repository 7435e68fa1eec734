package client

import (
	"context"
	"sort"
	"sync"

	"golang.org/x/sync/errgroup"
)

// reuse copies each job's content from its local copy into place, checking
// it first. Jobs whose local copy no longer holds the content are returned,
// in their original order, to be fetched instead.
func (s *stager) reuse(ctx context.Context, jobs []*job, pool *bufPool, workers int) ([]*job, error) {
	var mu sync.Mutex
	var missed []int
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(max(workers, 1))
	for n, j := range jobs {
		if gctx.Err() != nil {
			break
		}
		g.Go(func() error {
			buf := pool.get()
			defer pool.put(buf)
			data, err := readChunk(*j.src, *j.digest, j.length, *buf)
			if err != nil {
				s.log.Debug().Err(err).Msg("local copy unusable, fetching instead")
				mu.Lock()
				missed = append(missed, n)
				mu.Unlock()
				return nil
			}
			if err := s.put(gctx, j, data, nil); err != nil {
				return err
			}
			s.ctr.addReused(j.bytes())
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	if ctx.Err() != nil {
		return nil, context.Cause(ctx)
	}
	sort.Ints(missed)
	out := make([]*job, len(missed))
	for k, n := range missed {
		out[k] = jobs[n]
	}
	return out, nil
}
