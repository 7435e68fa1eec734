package repo

import (
	"context"

	"golang.org/x/sync/errgroup"

	"github.com/snapsync/snapsync/verify"
)

// forEach calls do for each digest, Options.Concurrency at a time, and
// returns the first error; the others are cancelled.
func (r *Repo) forEach(ctx context.Context, ds []verify.Digest, do func(context.Context, verify.Digest) error) error {
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(r.opts.Concurrency)
	for _, d := range ds {
		if gctx.Err() != nil {
			break
		}
		g.Go(func() error { return do(gctx, d) })
	}
	if err := g.Wait(); err != nil {
		return err
	}
	return context.Cause(ctx)
}
