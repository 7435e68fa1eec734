package backup

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/snapsync/snapsync/client"
	"github.com/snapsync/snapsync/verify"
)

// job is one distinct chunk to back up, at its first place in the manifest.
type job struct {
	ref client.ChunkRef
	c   verify.Chunk
}

// counters are the backup's live figures; the wire bytes are the session's.
type counters struct {
	total, done, stored atomic.Int64
}

// upload puts every distinct chunk of a snapshot the repository lacks.
type upload struct {
	cfg          *Config
	src          *client.Session
	ctr          counters
	chunksNew    int
	chunksReused int
}

func newUpload(cfg *Config, src *client.Session) *upload { return &upload{cfg: cfg, src: src} }

func (u *upload) progress() Progress {
	return Progress{BytesTotal: u.ctr.total.Load(), BytesDone: u.ctr.done.Load(),
		BytesWire: u.src.BytesFetched(), BytesNew: u.ctr.stored.Load()}
}

func (u *upload) run(ctx context.Context) error {
	jobs := distinct(u.src.Manifest())
	for _, jb := range jobs {
		u.ctr.total.Add(int64(jb.c.Length))
	}
	stop := u.report()
	defer stop()
	missing, err := u.missing(ctx, jobs)
	if err != nil {
		return err
	}
	var teed int
	if t := u.cfg.Tee; t != nil { // stored while the manifest was built: new, not reused
		teed = int(t.chunks.Load())
		u.ctr.stored.Add(t.stored.Load())
	}
	u.chunksReused = len(jobs) - len(missing) - teed
	u.chunksNew = len(missing) + teed
	refs := make([]client.ChunkRef, len(missing))
	for i, jb := range missing {
		refs[i] = jb.ref
	}
	return u.src.Fetch(ctx, refs, u.store)
}

// distinct returns the chunks of m, each digest once, in manifest order.
// Hard links share their group's chunks and are skipped.
func distinct(m *verify.Manifest) []job {
	seen := make(map[verify.Digest]bool)
	var out []job
	for fi := range m.Files {
		if m.Files[fi].LinkTo >= 0 {
			continue
		}
		for j, c := range m.Files[fi].Chunks {
			if !seen[c.Digest] {
				seen[c.Digest] = true
				out = append(out, job{ref: client.ChunkRef{File: fi, Chunk: j}, c: c})
			}
		}
	}
	return out
}

// missing returns the jobs whose chunk the repository lacks, in order.
func (u *upload) missing(ctx context.Context, jobs []job) ([]job, error) {
	has := make([]bool, len(jobs))
	g, ctx := errgroup.WithContext(ctx)
	g.SetLimit(4 * u.cfg.Streams)
	for i := range jobs {
		g.Go(func() error {
			ok, err := u.cfg.Repo.HasChunk(ctx, jobs[i].c.Digest)
			has[i] = ok
			if ok {
				u.ctr.done.Add(int64(jobs[i].c.Length))
			}
			return err
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	var out []job
	for i, jb := range jobs {
		if !has[i] {
			out = append(out, jb)
		}
	}
	return out, nil
}

// store is the fetch's sink: it puts a chunk the session verified into the
// repository (PutVerified: not hashed a third time).
func (u *upload) store(ctx context.Context, _ client.ChunkRef, c verify.Chunk, data []byte) error {
	n, err := u.cfg.Repo.PutVerified(ctx, c.Digest, data)
	if err != nil {
		return err
	}
	u.ctr.stored.Add(n)
	u.ctr.done.Add(int64(c.Length))
	return nil
}

// report calls cfg.Progress every 100ms while the figures change, and once
// more when the returned stop is called.
func (u *upload) report() (stop func()) {
	fn := u.cfg.Progress
	if fn == nil {
		return func() {}
	}
	done, quit := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(100 * time.Millisecond)
		defer t.Stop()
		last := u.progress()
		fn(last)
		for {
			select {
			case <-quit:
				fn(u.progress())
				return
			case <-t.C:
				if p := u.progress(); p != last {
					fn(p)
					last = p
				}
			}
		}
	}()
	var once sync.Once
	return func() { once.Do(func() { close(quit) }); <-done }
}
