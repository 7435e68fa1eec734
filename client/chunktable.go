package client

import (
	"bufio"
	"fmt"
	"io"
	"os"

	"github.com/snapsync/snapsync/internal/durable"
	"github.com/snapsync/snapsync/verify"
)

// A large manifest is not held whole (docs/DESIGN.md invariant 5: memory
// bounded by the install's plan window, not its size). decodeManifest keeps every
// file's path, size and mode, and for each full entry the offset of its
// chunk records in the staged manifest file; a chunkTable reads a file's
// chunk list back from that file when the plan comes to it, a window of
// files at a time (window.go). The file is the one fetchManifest checked
// against the snapshot ID, or readManifestFile checked again on resume, in
// the staging area no other user can write (the install holds its lock).

// defaultPlanWindow is the most chunks an install holds chunk lists and jobs
// for at once: 256 GiB of content at the default 1 MiB chunk, so a database
// of that size or less is planned in one go, and about 30 MiB of plan.
const defaultPlanWindow = 1 << 18

// decodeManifest decodes the verified canonical encoding of size bytes at
// the start of f. A manifest that cannot have more than window chunks is
// decoded whole, and so is one that turns out to have at most that many
// (at is nil): its chunk lists are then read in a second pass over their
// records only, not a second decode (a million files of few chunks would
// otherwise be held twice). A larger one is decoded without its chunk
// lists: at holds, by file, the offset of a full entry's first chunk record
// (-1 for a link).
func decodeManifest(f io.ReadSeeker, size int64, window int) (m *verify.Manifest, at []int64, err error) {
	if size <= int64(window)*verify.ChunkRecordSize {
		m, err = verify.DecodeReader(f, size)
		return m, nil, err
	}
	var files []verify.File
	m, err = verify.ScanAt(f, size, func(i, n int, vf *verify.File, off int64) error {
		if i == 0 {
			files, at = make([]verify.File, 0, n), make([]int64, 0, n)
		}
		files, at = append(files, *vf), append(at, off)
		return nil
	})
	if err != nil {
		return nil, nil, err
	}
	m.Files = files
	var chunks int64
	for i := range files {
		if files[i].LinkTo < 0 {
			chunks += verify.ChunkCount(files[i].Size, m.ChunkSize)
		}
	}
	if chunks > int64(window) {
		return m, at, nil
	}
	return m, nil, readChunkLists(f, m, at)
}

// readChunkLists fills in the chunk lists of m's full entries from their
// records at at, in one forward pass over f (a link shares its group's
// list, as Decode makes it), checking each length as the decode did.
func readChunkLists(f io.ReadSeeker, m *verify.Manifest, at []int64) error {
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return fmt.Errorf("rewind manifest: %w", err)
	}
	r := bufio.NewReaderSize(f, 64<<10)
	var pos int64
	var rec [verify.ChunkRecordSize]byte
	for i := range m.Files {
		file := &m.Files[i]
		if file.LinkTo >= 0 {
			file.Chunks = m.Files[file.LinkTo].Chunks
			continue
		}
		n := verify.ChunkCount(file.Size, m.ChunkSize)
		if n == 0 {
			continue
		}
		if _, err := r.Discard(int(at[i] - pos)); err != nil {
			return fmt.Errorf("%w: read the chunks of %s back from the manifest: %w", ErrStaging, file.Path, err)
		}
		file.Chunks = make([]verify.Chunk, n)
		for j := range file.Chunks {
			if _, err := io.ReadFull(r, rec[:]); err != nil {
				return fmt.Errorf("%w: read the chunks of %s back from the manifest: %w", ErrStaging, file.Path, err)
			}
			c := verify.ParseChunk(rec[:])
			if c.Length != verify.ChunkLength(file.Size, m.ChunkSize, j) {
				return fmt.Errorf("%w: manifest file changed: chunk %d of %s is %d bytes", ErrStaging, j, file.Path, c.Length)
			}
			file.Chunks[j] = c
		}
		pos = at[i] + n*verify.ChunkRecordSize
	}
	return nil
}

// chunkTable reads chunk lists back from the staged manifest file. A nil
// table is a manifest held whole.
type chunkTable struct {
	f  *os.File
	at []int64 // by file: decodeManifest's offsets
}

// openChunkTable opens the staged manifest file at p for the offsets at.
func openChunkTable(fsys durable.StageFS, p string, at []int64) (*chunkTable, error) {
	f, _, err := openBounded(fsys, p, verify.MaxManifestSize)
	if err != nil {
		return nil, fmt.Errorf("open manifest: %w", err)
	}
	return &chunkTable{f: f, at: at}, nil
}

// close closes the manifest file; the table is not used again.
func (t *chunkTable) close() {
	if t != nil {
		_ = t.f.Close() // read only: nothing to lose
	}
}

// chunks returns the chunk list of leader i: the one in memory if m holds
// it (or t is nil), else read back from the file.
func (t *chunkTable) chunks(m *verify.Manifest, i int) ([]verify.Chunk, error) {
	f := &m.Files[i]
	if t == nil || f.Chunks != nil || f.LinkTo >= 0 {
		return f.Chunks, nil
	}
	n := verify.ChunkCount(f.Size, m.ChunkSize)
	if n == 0 {
		return nil, nil
	}
	out := make([]verify.Chunk, n)
	var buf [256 * verify.ChunkRecordSize]byte
	for j := int64(0); j < n; {
		k := min(n-j, int64(len(buf)/verify.ChunkRecordSize))
		b := buf[:k*verify.ChunkRecordSize]
		if _, err := t.f.ReadAt(b, t.at[i]+j*verify.ChunkRecordSize); err != nil {
			return nil, fmt.Errorf("%w: read the chunks of %s back from the manifest: %w", ErrStaging, f.Path, err)
		}
		for ; len(b) > 0; j, b = j+1, b[verify.ChunkRecordSize:] {
			c := verify.ParseChunk(b)
			if c.Length != verify.ChunkLength(f.Size, m.ChunkSize, int(j)) {
				return nil, fmt.Errorf("%w: manifest file changed: chunk %d of %s is %d bytes", ErrStaging, j, f.Path, c.Length)
			}
			out[j] = c
		}
	}
	return out, nil
}

// load puts the chunk lists of leaders files in m, for the window's plan.
func (t *chunkTable) load(m *verify.Manifest, files []int) error {
	for _, i := range files {
		c, err := t.chunks(m, i)
		if err != nil {
			return err
		}
		m.Files[i].Chunks = c
	}
	return nil
}

// unload drops the chunk lists load put in m (jobs still under way keep
// what they point to).
func (t *chunkTable) unload(m *verify.Manifest, files []int) {
	if t == nil {
		return
	}
	for _, i := range files {
		m.Files[i].Chunks = nil
	}
}
