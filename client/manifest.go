package client

import (
	"context"
	"crypto/sha256"
	"fmt"
	"hash"
	"io"
	"os"
	"path/filepath"

	"connectrpc.com/connect"

	"github.com/snapsync/snapsync/internal/durable"
	snapsyncv1 "github.com/snapsync/snapsync/proto/gen/snapsync/v1"
	"github.com/snapsync/snapsync/proto/gen/snapsync/v1/snapsyncv1connect"
	"github.com/snapsync/snapsync/verify"
)

// The manifest never sits whole in memory: its pages are hashed as they
// arrive and spooled to a file in the staging area, its digest is checked
// against the snapshot ID once the last page is in, and only then is it
// decoded, from the file, with bounded buffers. A hostile server can make the
// client hold one page (a message, at most maxMessage) and, once the digest
// matches, the decoded manifest, whose size verify's limits bound.

// fetchManifest fetches the granted snapshot's manifest into l.manifest
// (through a temporary file beside it), checks it against the ID and decodes
// it: whole, or, past cfg's plan window, without its chunk lists (at:
// decodeManifest).
func fetchManifest(ctx context.Context, rpc snapsyncv1connect.SnapshotServiceClient, g grant, cfg *Config, l layout) (_ *verify.Manifest, at []int64, err error) {
	p := l.manifest
	tmp := p + durable.TmpSuffix
	defer func() {
		if err != nil {
			_ = l.fs.Remove(tmp) // best effort: a leftover is truncated by the next fetch
		}
	}()
	f, err := l.fs.OpenFile(tmp, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: create %s: %w", ErrStaging, tmp, err)
	}
	defer f.Close() // closed explicitly below; a second close only errs
	err = newRetrier(cfg).do(ctx, "get manifest", func(ctx context.Context) (bool, error) {
		return false, spoolManifest(ctx, rpc, g, f)
	})
	if err != nil {
		return nil, nil, err
	}
	m, at, err := decodeSpool(f, g, cfg.window())
	if err != nil {
		return nil, nil, err
	}
	if err := l.fs.Sync(f); err != nil {
		return nil, nil, fmt.Errorf("sync %s: %w", tmp, err)
	}
	if err := f.Close(); err != nil {
		return nil, nil, fmt.Errorf("close %s: %w", tmp, err)
	}
	if err := l.fs.Rename(tmp, p); err != nil {
		return nil, nil, fmt.Errorf("rename %s: %w", tmp, err)
	}
	if err := l.fs.SyncDir(filepath.Dir(p)); err != nil {
		return nil, nil, fmt.Errorf("sync %s: %w", filepath.Dir(p), err)
	}
	return m, at, nil
}

// decodeSpool checks the spooled manifest's digest and decodes it from f
// (decodeManifest, with window).
func decodeSpool(f *os.File, g grant, window int) (*verify.Manifest, []int64, error) {
	total := int64(g.info.GetManifestSize())
	h := sha256.New()
	if err := readSpool(f, total, h); err != nil {
		return nil, nil, fmt.Errorf("%w: %w", ErrStaging, err)
	}
	if err := verify.CheckDigest("manifest", g.id, verify.Digest(h.Sum(nil))); err != nil {
		return nil, nil, fmt.Errorf("%w: manifest: %w", ErrServer, err)
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return nil, nil, fmt.Errorf("%w: rewind manifest: %w", ErrStaging, err)
	}
	m, at, err := decodeManifest(f, total, window)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: manifest: %w", ErrServer, err)
	}
	if m.Meta.Index != g.info.GetIndex() || m.Meta.Term != g.info.GetTerm() {
		return nil, nil, fmt.Errorf("%w: manifest reflects term %d index %d, summary said %d/%d",
			ErrServer, m.Meta.Term, m.Meta.Index, g.info.GetTerm(), g.info.GetIndex())
	}
	return m, at, nil
}

// readSpool hashes the total bytes of f from its start.
func readSpool(f *os.File, total int64, h hash.Hash) error {
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return fmt.Errorf("rewind manifest: %w", err)
	}
	n, err := io.Copy(h, io.LimitReader(f, total+1))
	switch {
	case err != nil:
		return fmt.Errorf("read manifest back: %w", err)
	case n != total:
		return fmt.Errorf("manifest file holds %d bytes, want %d", n, total)
	}
	return nil
}

// spoolManifest writes the manifest's pages to f from its start, checking
// each page's offset and size as it arrives: never more than the size the
// summary announced (itself at most verify.MaxManifestSize).
func spoolManifest(ctx context.Context, rpc snapsyncv1connect.SnapshotServiceClient, g grant, f *os.File) error {
	if err := f.Truncate(0); err != nil {
		return fmt.Errorf("%w: truncate manifest spool: %w", ErrStaging, err)
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return fmt.Errorf("%w: rewind manifest spool: %w", ErrStaging, err)
	}
	stream, err := rpc.GetManifest(ctx, connect.NewRequest(&snapsyncv1.GetManifestRequest{SnapshotId: g.id[:]}))
	if err != nil {
		return err
	}
	defer stream.Close() // the stream's error, if any, is read below
	total := g.info.GetManifestSize()
	var got uint64
	for stream.Receive() {
		page := stream.Msg()
		if err := checkPage(page, got, total); err != nil {
			return err
		}
		if _, err := f.Write(page.GetData()); err != nil {
			return fmt.Errorf("%w: spool manifest: %w", ErrStaging, err)
		}
		got += uint64(len(page.GetData()))
	}
	if err := stream.Err(); err != nil {
		return err
	}
	if got != total {
		return fmt.Errorf("%w: manifest %d of %d bytes", errIncomplete, got, total)
	}
	return nil
}

// checkPage refuses a page that is not the next run of the announced bytes.
func checkPage(page *snapsyncv1.GetManifestResponse, got, total uint64) error {
	n := uint64(len(page.GetData()))
	switch {
	case page.GetTotalSize() != total:
		return fmt.Errorf("%w: manifest page says total %d, summary said %d", ErrServer, page.GetTotalSize(), total)
	case page.GetOffset() != got:
		return fmt.Errorf("%w: manifest page at offset %d, want %d", ErrServer, page.GetOffset(), got)
	case n == 0 || got+n > total:
		return fmt.Errorf("%w: manifest page of %d bytes at %d of %d: more than announced", ErrServer, n, got, total)
	}
	return nil
}

// readManifestFile decodes a staged manifest file after checking it against
// id, reading it twice (hash, then decode) instead of holding it in memory:
// whole, or, past window chunks, without its chunk lists (decodeManifest).
func readManifestFile(fsys durable.StageFS, p string, id verify.Digest, window int) (*verify.Manifest, []int64, error) {
	f, size, err := openBounded(fsys, p, verify.MaxManifestSize)
	if err != nil {
		return nil, nil, err
	}
	defer f.Close()
	h := sha256.New()
	if err := readSpool(f, size, h); err != nil {
		return nil, nil, err
	}
	if err := verify.CheckDigest("manifest", id, verify.Digest(h.Sum(nil))); err != nil {
		return nil, nil, err
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return nil, nil, fmt.Errorf("rewind %s: %w", p, err)
	}
	return decodeManifest(f, size, window)
}

// fetchManifestTemp fetches the granted snapshot's manifest as fetchManifest
// does (the same pages, checks and retries), spooled to a temporary file
// that is removed once it is decoded: a Session has no staging area.
func fetchManifestTemp(ctx context.Context, rpc snapsyncv1connect.SnapshotServiceClient, g grant, cfg *Config) (*verify.Manifest, error) {
	f, err := os.CreateTemp("", "snapsync-manifest-*")
	if err != nil {
		return nil, fmt.Errorf("create manifest spool: %w", err)
	}
	defer func() {
		_ = f.Close()           // read only from here on: nothing to lose
		_ = os.Remove(f.Name()) // best effort: a leftover in the temporary directory costs only disk
	}()
	err = newRetrier(cfg).do(ctx, "get manifest", func(ctx context.Context) (bool, error) {
		return false, spoolManifest(ctx, rpc, g, f)
	})
	if err != nil {
		return nil, err
	}
	m, _, err := decodeSpool(f, g, verify.MaxTotalChunks)
	return m, err
}
