package client

import (
	"context"
	"errors"
	"fmt"
	"io"

	"connectrpc.com/connect"
	"github.com/klauspost/compress/zstd"
	"golang.org/x/sync/errgroup"

	"github.com/snapsync/snapsync/internal/rpccodec"
	"github.com/snapsync/snapsync/internal/wire"
	snapsyncv1 "github.com/snapsync/snapsync/proto/gen/snapsync/v1"
	"github.com/snapsync/snapsync/proto/gen/snapsync/v1/snapsyncv1connect"
	"github.com/snapsync/snapsync/verify"
)

// fetcher fetches jobs from the server over parallel FetchChunks streams
// and puts each verified chunk into its sink.
type fetcher struct {
	rpc       snapsyncv1connect.SnapshotServiceClient
	id        verify.Digest
	leaseID   string
	ordinal   uint32 // the lease's (grant.ordinal)
	cfg       *Config
	sink      chunkSink
	ctr       *counters
	chunkSize uint32
	// sources are the chunk sources (chunksources.go); nil: none.
	sources *sourceSet
}

// chunkSink is where a fetcher puts verified chunks: the staged files of an
// install (stager), or the Sink of a Session.Fetch (a backup's repository).
// It is the only difference between the two: the calls, retries, stall
// bound and verification are the fetcher's.
type chunkSink interface {
	// open returns what one stream puts its chunks with.
	open() streamSink
}

// streamSink takes one stream's verified chunks, one at a time; put marks
// the job done once the chunk is in place.
type streamSink interface {
	put(ctx context.Context, j *job, data []byte) error
	close()
}

// run splits jobs into cfg.Streams contiguous parts balanced by bytes and
// fetches each part on its own stream.
func (f *fetcher) run(ctx context.Context, jobs []*job) error {
	g, gctx := errgroup.WithContext(ctx)
	for n, part := range splitJobs(jobs, f.cfg.Streams) {
		g.Go(func() error { return f.stream(gctx, n, part) })
	}
	return g.Wait()
}

// splitJobs cuts jobs, in order, into at most n runs of about equal bytes.
func splitJobs(jobs []*job, n int) [][]*job {
	var total int64
	for _, j := range jobs {
		total += int64(j.length)
	}
	if len(jobs) == 0 {
		return nil
	}
	share := (total + int64(n) - 1) / int64(n)
	var parts [][]*job
	start, acc := 0, int64(0)
	for i, j := range jobs {
		acc += int64(j.length)
		if acc >= share && len(parts) < n-1 {
			parts = append(parts, jobs[start:i+1])
			start, acc = i+1, 0
		}
	}
	if start < len(jobs) {
		parts = append(parts, jobs[start:])
	}
	return parts
}

// stream fetches its jobs, in calls of at most ChunksPerRequest chunks, with
// retries; memory is two messages and one decoded chunk: one message is
// received while the one before it is verified and written (call).
func (f *fetcher) stream(ctx context.Context, n int, pending []*job) error {
	cio, err := f.newChunkIO()
	if err != nil {
		return err
	}
	defer cio.close()
	return f.streamWith(ctx, n, pending, cio)
}

// newChunkIO makes what a stream receives chunks with: a decoder and
// aligned buffers, so that whole chunks can be written with direct I/O (buf
// for decoded chunks, and each message's Data, which raw chunks are received
// into: room for a zstd frame of a chunk, so it never grows), and an open
// sink. close gives back what it holds.
func (f *fetcher) newChunkIO() (*chunkIO, error) {
	dec, err := newDecoder(f.chunkSize)
	if err != nil {
		return nil, err
	}
	var msgs [2]*snapsyncv1.FetchChunksResponse
	for i := range msgs {
		msgs[i] = &snapsyncv1.FetchChunksResponse{Data: alignedBuf(int(f.chunkSize) + int(f.chunkSize)/128 + 1024)[:0]}
	}
	return &chunkIO{dec: dec, buf: alignedBuf(int(f.chunkSize)), msgs: msgs, out: f.sink.open()}, nil
}

func (cio *chunkIO) close() {
	cio.out.close()
	cio.dec.Close()
}

// streamWith is stream on cio, which outlives it (a sourced fetch's worker
// keeps one for all its batches).
func (f *fetcher) streamWith(ctx context.Context, n int, pending []*job, cio *chunkIO) error {
	what := fmt.Sprintf("fetch stream %d", n)
	return newRetrier(f.cfg).do(ctx, what, func(ctx context.Context) (bool, error) {
		progress := false
		for len(pending) > 0 {
			batch := pending[:min(len(pending), f.cfg.ChunksPerRequest)]
			placed, err := f.call(ctx, batch, cio)
			progress = progress || placed > 0
			pending = undone(pending)
			if err != nil {
				return progress, err
			}
		}
		return progress, nil
	})
}

func undone(jobs []*job) []*job {
	out := jobs[:0]
	for _, j := range jobs {
		if !j.done {
			out = append(out, j)
		}
	}
	return out
}

// chunkIO is what one stream reuses for every chunk: a decoder, a buffer for
// decoded chunks, the two messages chunks are received into and the sink.
type chunkIO struct {
	dec  *zstd.Decoder
	buf  []byte
	msgs [2]*snapsyncv1.FetchChunksResponse
	out  streamSink
}

// received is a chunk message matched to the job it answers.
type received struct {
	msg *snapsyncv1.FetchChunksResponse
	j   *job
}

// call makes one FetchChunks call for batch and places what arrives. It
// returns the number of chunks placed. A chunk that fails verification is
// left pending (and fails the install after ChunkRetries); a chunk the call
// did not ask for, or sends twice, is a protocol violation.
//
// Receiving and placing overlap (docs/DESIGN.md invariant 5 bounds the
// memory: two messages a stream): this goroutine receives the next chunk
// from the connection while place verifies and writes the one before, so a
// direct write waiting on the disk does not stop the stream's flow.
func (f *fetcher) call(ctx context.Context, batch []*job, cio *chunkIO) (int, error) {
	want := make(map[target]*job, len(batch))
	for _, j := range batch {
		want[j.targets[0]] = j
	}
	req := connect.NewRequest(&snapsyncv1.FetchChunksRequest{
		SnapshotId: f.id[:], Ranges: chunkRanges(batch), Compression: f.cfg.Compression, LeaseId: f.leaseID,
	})
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	direct := new(rpccodec.Direct)
	stream, err := f.rpc.FetchChunks(rpccodec.WithDirect(ctx, direct), req)
	if err != nil {
		return 0, err
	}
	defer stream.Close() // the stream's error, if any, is read below
	conn, err := stream.Conn()
	if err != nil {
		return 0, err
	}
	free := make(chan *snapsyncv1.FetchChunksResponse, len(cio.msgs))
	for _, m := range cio.msgs {
		free <- m
	}
	work := make(chan received)
	placedc := make(chan placeResult, 1)
	go func() { placedc <- f.place(ctx, work, free, cio, cancel) }()
	err = f.receive(ctx, conn, direct, want, work, free)
	close(work)
	pr := <-placedc
	if pr.err != nil { // the first failure: the receive error, if any, is its consequence
		return pr.placed, pr.err
	}
	if err != nil {
		return pr.placed, err
	}
	if len(want) > 0 {
		return pr.placed, fmt.Errorf("%w: %d of %d chunks missing", errIncomplete, len(want), len(batch))
	}
	return pr.placed, nil
}

// placeResult is what place did: chunks placed, and the error that stopped it.
type placeResult struct {
	placed int
	err    error
}

// receive reads the call's messages into free buffers and hands each, with
// its job, to work, until the stream ends. It returns when the stream ends,
// fails or ctx (cancelled by place on failure) is done. A message's chunk
// bytes are read straight into its Data buffer by direct where they can be
// (rpccodec.Direct), else copied there by the codec.
func (f *fetcher) receive(ctx context.Context, conn connect.StreamingClientConn, direct *rpccodec.Direct,
	want map[target]*job, work chan<- received, free <-chan *snapsyncv1.FetchChunksResponse) error {
	for {
		var msg *snapsyncv1.FetchChunksResponse
		select {
		case msg = <-free:
		case <-ctx.Done():
			return context.Cause(ctx)
		}
		// Its Data is reused (rpccodec). Reset first: Connect leaves the
		// message as it is for an empty one.
		msg.FileIndex, msg.ChunkIndex, msg.Encoding, msg.Data = 0, 0, 0, msg.Data[:0]
		buf := msg.Data
		direct.Aim(buf)
		err := conn.Receive(msg)
		if n, ok := direct.Take(); ok && err == nil {
			msg.Data = buf[:n] // the codec saw the message without its Data
		}
		if err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return err
		}
		t := target{file: int(msg.GetFileIndex()), chunk: int(msg.GetChunkIndex())}
		j := want[t]
		if j == nil {
			return fmt.Errorf("%w: chunk %d of file %d was not asked for or came twice", ErrServer, t.chunk, t.file)
		}
		delete(want, t)
		f.ctr.addFetched(int64(len(msg.GetData())))
		select {
		case work <- received{msg: msg, j: j}:
		case <-ctx.Done():
			return context.Cause(ctx)
		}
	}
}

// place verifies and puts each received chunk, handing its message back to
// free, until work is closed. On the first error it cancels the call and
// drains work.
func (f *fetcher) place(ctx context.Context, work <-chan received, free chan<- *snapsyncv1.FetchChunksResponse,
	cio *chunkIO, cancel context.CancelCauseFunc) placeResult {
	var r placeResult
	for w := range work {
		if r.err == nil {
			var ok bool
			ok, r.err = f.accept(ctx, w.msg, w.j, cio)
			if r.err != nil {
				cancel(r.err)
			} else if ok {
				r.placed++
			}
		}
		free <- w.msg
	}
	return r
}

// accept verifies a chunk and puts it into the sink; false when it failed
// verification and will be asked for again.
func (f *fetcher) accept(ctx context.Context, msg *snapsyncv1.FetchChunksResponse, j *job, cio *chunkIO) (bool, error) {
	data, err := checkChunk(cio.dec, msg, j, cio.buf)
	f.cfg.Metrics.ChunkChecked(err == nil)
	if err != nil {
		j.failures++
		if int(j.failures) > f.cfg.ChunkRetries {
			return false, fmt.Errorf("%w: chunk %d of file %d, %d attempts: %w",
				ErrVerify, msg.GetChunkIndex(), msg.GetFileIndex(), j.failures, err)
		}
		f.cfg.Logger.Warn().Err(err).Int32("failures", j.failures).Msg("chunk failed verification, fetching it again")
		return false, nil
	}
	return true, cio.out.put(ctx, j, data)
}

// chunkRanges names the jobs' representative chunks, merging runs of
// consecutive chunks of one file.
func chunkRanges(jobs []*job) []*snapsyncv1.ChunkRange {
	var out []*snapsyncv1.ChunkRange
	for _, j := range jobs {
		out = wire.AppendChunk(out, j.targets[0].file, j.targets[0].chunk)
	}
	return out
}
