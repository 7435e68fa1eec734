package backup

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"connectrpc.com/connect"
	"golang.org/x/sync/errgroup"

	"github.com/snapsync/snapsync/internal/chunkcodec"
	"github.com/snapsync/snapsync/internal/wire"
	snapsyncv1 "github.com/snapsync/snapsync/proto/gen/snapsync/v1"
	"github.com/snapsync/snapsync/verify"
)

// job is one distinct chunk to back up, at its first place in the manifest.
type job struct {
	fi, j int
	c     verify.Chunk
}

// counters are the backup's live figures.
type counters struct {
	total, done, wire, stored atomic.Int64
}

func (c *counters) progress() Progress {
	return Progress{BytesTotal: c.total.Load(), BytesDone: c.done.Load(), BytesWire: c.wire.Load(), BytesNew: c.stored.Load()}
}

// upload puts every distinct chunk of a snapshot the repository lacks.
type upload struct {
	cfg          *Config
	src          *source
	ctr          counters
	chunksNew    int
	chunksReused int
}

func newUpload(cfg *Config, src *source) *upload { return &upload{cfg: cfg, src: src} }

func (u *upload) run(ctx context.Context) error {
	jobs := distinct(u.src.m)
	for _, jb := range jobs {
		u.ctr.total.Add(int64(jb.c.Length))
	}
	stop := u.report()
	defer stop()
	missing, err := u.missing(ctx, jobs)
	if err != nil {
		return err
	}
	u.chunksReused = len(jobs) - len(missing)
	u.chunksNew = len(missing)
	return u.fetch(ctx, missing)
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
				out = append(out, job{fi: fi, j: j, c: c})
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

// fetch asks for the jobs in batches over cfg.Streams streams at once.
func (u *upload) fetch(ctx context.Context, jobs []job) error {
	batches := make(chan []job)
	g, ctx := errgroup.WithContext(ctx)
	g.Go(func() error {
		defer close(batches)
		for i := 0; i < len(jobs); i += u.cfg.Batch {
			select {
			case batches <- jobs[i:min(i+u.cfg.Batch, len(jobs))]:
			case <-ctx.Done():
				return context.Cause(ctx)
			}
		}
		return nil
	})
	for range u.cfg.Streams {
		g.Go(func() error {
			for b := range batches {
				if err := u.batch(ctx, b); err != nil {
					return err
				}
			}
			return nil
		})
	}
	return g.Wait()
}

// batch fetches, verifies and stores the chunks of one request.
func (u *upload) batch(ctx context.Context, b []job) error {
	dec, err := chunkcodec.NewDecoder(u.src.m.ChunkSize)
	if err != nil {
		return err
	}
	defer dec.Close()
	buf := make([]byte, u.src.m.ChunkSize)
	req := &snapsyncv1.FetchChunksRequest{SnapshotId: u.src.id[:], Ranges: ranges(b),
		Compression: u.cfg.Compression, LeaseId: u.src.leaseID}
	stream, err := u.src.rpc.FetchChunks(ctx, connect.NewRequest(req))
	if err != nil {
		return fmt.Errorf("backup: fetch chunks: %w", err)
	}
	defer stream.Close()
	next := 0
	for stream.Receive() {
		msg := stream.Msg()
		if next == len(b) || int(msg.GetFileIndex()) != b[next].fi || int(msg.GetChunkIndex()) != b[next].j {
			return fmt.Errorf("%w: chunk %d of file %d out of order", ErrSource, msg.GetChunkIndex(), msg.GetFileIndex())
		}
		u.ctr.wire.Add(int64(len(msg.GetData())))
		data, err := checkChunk(dec, msg, b[next].c, buf)
		if err != nil {
			return err
		}
		n, err := u.cfg.Repo.PutChunk(ctx, b[next].c.Digest, data)
		if err != nil {
			return err
		}
		u.ctr.stored.Add(n)
		u.ctr.done.Add(int64(b[next].c.Length))
		next++
	}
	if err := stream.Err(); err != nil {
		return fmt.Errorf("backup: fetch chunks: %w", err)
	}
	if next != len(b) {
		return fmt.Errorf("%w: stream ended after %d of %d chunks", ErrSource, next, len(b))
	}
	return nil
}

// ranges asks for the jobs of b in order, adjacent chunks of a file as one range.
func ranges(b []job) []*snapsyncv1.ChunkRange {
	var out []*snapsyncv1.ChunkRange
	for _, jb := range b {
		out = wire.AppendChunk(out, jb.fi, jb.j)
	}
	return out
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
		last := u.ctr.progress()
		fn(last)
		for {
			select {
			case <-quit:
				fn(u.ctr.progress())
				return
			case <-t.C:
				if p := u.ctr.progress(); p != last {
					fn(p)
					last = p
				}
			}
		}
	}()
	var once sync.Once
	return func() { once.Do(func() { close(quit) }); <-done }
}
