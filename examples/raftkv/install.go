package raftkv

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"time"

	"connectrpc.com/connect"

	snapsyncv1 "github.com/snapsync/snapsync/proto/gen/snapsync/v1"
)

// progressEvery is how often Prepare's progress is logged at info level.
const progressEvery = time.Second

// InstallReport describes a snapshot install that went through Commit.
type InstallReport struct {
	// Pointer is the Raft snapshot that asked for the install.
	Pointer Pointer
	// SnapshotID is the installed snapshot's ID, in hex.
	SnapshotID string
	// Term and Index are what the installed DB reflects (at least
	// Pointer.Index: the sidecar may serve a newer checkpoint).
	Term, Index uint64
	// BytesTotal, BytesFetched, BytesReused and Files are from Prepare's last
	// progress report: the snapshot's size, the bytes received over the
	// network (compressed, as on the wire), the bytes reused from what the
	// node already had, and the snapshot's file count.
	BytesTotal, BytesFetched, BytesReused, Files uint64
	// Prepare is how long fetching and staging took; Total adds the swap and
	// the reopen.
	Prepare, Total time.Duration
}

// Restore installs the checkpoint a snapshot pointer names, through the local
// sidecar, unless the DB already reflects the pointer's index (then it keeps
// the DB: Raft replays what follows, and Apply skips what the DB holds).
// Any failure leaves the old DB open and returns the error; Raft retries, and
// the sidecar's next Prepare resumes from what it staged.
func (f *fsm) Restore(rc io.ReadCloser) (err error) {
	defer func() { err = errors.Join(err, rc.Close()) }()
	p, err := DecodePointer(rc)
	if err != nil {
		return err
	}
	log := f.log.With().Uint64("term", p.Term).Uint64("index", p.Index).Str("source", p.SidecarURL).Logger()
	if applied := f.index.Load(); p.Index <= applied {
		log.Info().Uint64("applied", applied).Msg("snapshot not beyond the applied index: keeping the DB")
		return nil
	}
	ctx, cancel := context.WithTimeout(f.ctx, f.installTimeout)
	defer cancel()
	rep, err := f.install(ctx, p)
	if err != nil {
		log.Error().Err(err).Msg("snapshot install")
		return fmt.Errorf("install snapshot at index %d: %w", p.Index, err)
	}
	log.Info().Str("snapshot", rep.SnapshotID).Uint64("installed_index", rep.Index).
		Uint64("bytes_fetched", rep.BytesFetched).Uint64("bytes_reused", rep.BytesReused).
		Dur("took", rep.Total).Msg("snapshot installed")
	f.reportMu.Lock()
	f.report = &rep
	f.reportMu.Unlock()
	return nil
}

// lastInstall returns the last install that went through Commit, if any.
func (f *fsm) lastInstall() (InstallReport, bool) {
	f.reportMu.Lock()
	defer f.reportMu.Unlock()
	if f.report == nil {
		return InstallReport{}, false
	}
	return *f.report, true
}

// install runs Prepare, then the swap, and checks the DB it got.
func (f *fsm) install(ctx context.Context, p Pointer) (InstallReport, error) {
	start := time.Now()
	info, prog, err := f.prepare(ctx, p)
	if err != nil {
		return InstallReport{}, err
	}
	prepared := time.Since(start)
	if err := f.swap(ctx, info); err != nil {
		return InstallReport{}, err
	}
	term, index := f.term.Load(), f.index.Load()
	if index < p.Index {
		return InstallReport{}, fmt.Errorf("%w: installed DB reflects index %d, want at least %d", ErrInstall, index, p.Index)
	}
	return InstallReport{
		Pointer: p, SnapshotID: hex.EncodeToString(info.GetSnapshotId()), Term: term, Index: index,
		BytesTotal: prog.GetBytesTotal(), BytesFetched: prog.GetBytesFetched(),
		BytesReused: prog.GetBytesReused(), Files: prog.GetFilesTotal(),
		Prepare: prepared, Total: time.Since(start),
	}, nil
}

// prepare asks the sidecar to fetch, verify and stage a checkpoint of at
// least p.Index from p.SidecarURL, logging its progress; the DB stays open.
// min_index is the lowest index Raft accepts, no more: hashicorp/raft records
// the snapshot's own index as applied and resumes replication after it (the
// counterpart of Ratis's firstTermIndexInLog.getIndex() - 1, see
// docs/INTEGRATION.md), and a newer checkpoint is fine, since Apply skips
// entries at or below the index the DB records.
func (f *fsm) prepare(ctx context.Context, p Pointer) (*snapsyncv1.SnapshotInfo, *snapsyncv1.Progress, error) {
	stream, err := f.sidecar.Prepare(ctx, connect.NewRequest(&snapsyncv1.PrepareRequest{
		SourceUrl: p.SidecarURL, MinIndex: p.Index, Dest: filepath.Dir(f.dbDir), Replace: []string{dbEntry},
	}))
	if err != nil {
		return nil, nil, fmt.Errorf("prepare: %w", err)
	}
	defer stream.Close() //nolint:errcheck // the stream's outcome is stream.Err.
	var (
		info   *snapsyncv1.SnapshotInfo
		last   *snapsyncv1.Progress
		logged time.Time
	)
	for stream.Receive() {
		msg := stream.Msg()
		if pr := msg.GetProgress(); pr != nil {
			last = pr
			if time.Since(logged) >= progressEvery {
				logged = time.Now()
				f.logProgress(pr)
			}
		}
		if msg.GetPrepared() != nil {
			info = msg.GetPrepared()
		}
	}
	if err := stream.Err(); err != nil {
		return nil, nil, fmt.Errorf("prepare: %w", err)
	}
	if info == nil {
		return nil, nil, fmt.Errorf("%w: prepare ended without a prepared snapshot", ErrInstall)
	}
	if info.GetIndex() < p.Index {
		return nil, nil, fmt.Errorf("%w: prepared index %d below %d", ErrInstall, info.GetIndex(), p.Index)
	}
	return info, last, nil
}

// logProgress logs one progress report of Prepare.
func (f *fsm) logProgress(pr *snapsyncv1.Progress) {
	f.log.Info().Stringer("state", pr.GetState()).Uint64("bytes_done", pr.GetBytesDone()).
		Uint64("bytes_total", pr.GetBytesTotal()).Uint64("bytes_fetched", pr.GetBytesFetched()).
		Uint64("bytes_reused", pr.GetBytesReused()).Msg("prepare progress")
}

// swap closes the DB, has the sidecar commit the prepared snapshot into its
// directory and reopens whatever is there: the new DB, or the old one if the
// commit failed. Gets wait meanwhile.
func (f *fsm) swap(ctx context.Context, info *snapsyncv1.SnapshotInfo) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.st == nil {
		return ErrClosed
	}
	err := f.st.close()
	f.st = nil
	if err != nil {
		return f.reopen(fmt.Errorf("close before commit: %w", err))
	}
	resp, err := f.sidecar.Commit(ctx, connect.NewRequest(&snapsyncv1.CommitRequest{
		Dest: filepath.Dir(f.dbDir), SnapshotId: info.GetSnapshotId(), Replace: []string{dbEntry},
	}))
	if err != nil {
		return f.reopen(fmt.Errorf("commit: %w", err))
	}
	got := resp.Msg.GetSnapshot()
	f.log.Info().Uint64("term", got.GetTerm()).Uint64("index", got.GetIndex()).Msg("snapshot committed")
	return f.reopen(nil)
}

// reopen opens the DB directory again and reads the index it reflects,
// joining any error to cause. f.mu must be held and the DB closed.
func (f *fsm) reopen(cause error) error {
	st, err := openStore(f.dbDir, f.log)
	if err != nil {
		return errors.Join(cause, err)
	}
	term, index, err := st.applied()
	if err != nil {
		return errors.Join(cause, err, st.close())
	}
	f.st = st
	f.term.Store(term)
	f.index.Store(index)
	return cause
}
