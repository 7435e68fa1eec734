package client

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"slices"

	"github.com/snapsync/snapsync/internal/durable"
	"github.com/snapsync/snapsync/swap"
	"github.com/snapsync/snapsync/verify"
)

// stateVersion is the version of state.json this code writes and reads.
const stateVersion = 1

// maxStateSize bounds state.json before it is read.
const maxStateSize = 64 << 10

// Phases of a staging area.
const (
	phaseFetching = "fetching" // stage/ is being filled; resume from it
	phaseStaged   = "staged"   // stage/ is complete and fsynced
	phaseSwapping = "swapping" // Commit has started the swap
)

// state is state.json: what the staging area holds. It is read back from disk
// and so is untrusted: decodeState checks every field.
type state struct {
	Version    int    `json:"version"`
	SnapshotID string `json:"snapshot_id"`
	Phase      string `json:"phase"`
	Term       uint64 `json:"term"`
	Index      uint64 `json:"index"`
	Files      int    `json:"files"`
	BytesTotal int64  `json:"bytes_total"`
	// Engine, CreatedUnixNano, Labels, ChunkSize and ManifestSize describe
	// the manifest (Result); a state written before they were kept lacks
	// them, and fillMeta reads them from manifest.bin.
	Engine          string            `json:"engine,omitempty"`
	CreatedUnixNano int64             `json:"created_unix_nano,omitempty"`
	Labels          map[string]string `json:"labels,omitempty"`
	ChunkSize       uint32            `json:"chunk_size,omitempty"`
	ManifestSize    int64             `json:"manifest_size,omitempty"`
	// BytesFetched and BytesReused are the figures of the attempt that
	// completed the staging; what an interrupted attempt staged counts as
	// reused (a crash leaves no figures to add up).
	BytesFetched int64 `json:"bytes_fetched"`
	BytesReused  int64 `json:"bytes_reused"`
	// Staged is the identity of stage/'s root, set once staged: Commit and
	// Recover tell the trees apart by it, never by name.
	Staged durable.FileID `json:"staged"`
	// Old is the identity of the tree at Dest when the swap began (zero if
	// none), so that it is found again after a crash.
	Old durable.FileID `json:"old"`
	// Replace is the list of a set install (Config.Replace) this staging was
	// prepared with; Commit refuses another.
	Replace []string `json:"replace,omitempty"`
	// KeepOld is Config.KeepOld of the Commit that began the swap: whoever
	// finishes it keeps the old tree for Rollback.
	KeepOld bool `json:"keep_old,omitempty"`
	// Entries are the identities of stage/'s top-level entries of a set
	// install, set once staged: in Dest they show the set swap happened.
	Entries []entryID `json:"entries,omitempty"`
}

// id returns the parsed snapshot ID.
func (s *state) id() verify.Digest {
	d, err := verify.ParseDigest(s.SnapshotID)
	if err != nil {
		return verify.Digest{} // decodeState has refused such a state
	}
	return d
}

// result returns what the state says about the snapshot.
func (s *state) result() Result {
	return Result{
		SnapshotID: s.id(), Term: s.Term, Index: s.Index, Files: s.Files,
		Meta:      verify.Meta{Term: s.Term, Index: s.Index, Engine: s.Engine, CreatedUnixNano: s.CreatedUnixNano, Labels: s.Labels},
		ChunkSize: s.ChunkSize, ManifestSize: s.ManifestSize,
		BytesTotal: s.BytesTotal, BytesFetched: s.BytesFetched, BytesReused: s.BytesReused,
	}
}

// setManifest records what s's result says about manifest m, whose
// canonical encoding is size bytes long.
func (s *state) setManifest(m *verify.Manifest, size int64) {
	s.Term, s.Index, s.Files, s.BytesTotal = m.Meta.Term, m.Meta.Index, len(m.Files), m.TotalBytes()
	s.Engine, s.CreatedUnixNano, s.Labels = m.Meta.Engine, m.Meta.CreatedUnixNano, m.Meta.Labels
	s.ChunkSize, s.ManifestSize = m.ChunkSize, size
}

// fillMeta fills in from manifest.bin what a state written before they were
// kept lacks (ChunkSize and the rest). Best effort: a manifest that cannot
// be read leaves them zero, and the install goes on.
func fillMeta(l layout, st *state) {
	if st.ChunkSize != 0 {
		return
	}
	m, err := readManifest(l, st.id())
	if err != nil {
		return
	}
	info, err := l.fs.Lstat(l.manifest)
	if err != nil {
		return
	}
	st.setManifest(m, info.Size)
}

func (s *state) encode() ([]byte, error) { return encodeChecked(s, "state") }

// checked is a JSON file of the staging or rollback area (state.json,
// rollback.json): read back from disk, so untrusted, and checked by validate.
type checked[T any] interface {
	*T
	validate() error
}

// encodeChecked checks v and encodes it, indented, with a final newline.
func encodeChecked(v interface{ validate() error }, what string) ([]byte, error) {
	if err := v.validate(); err != nil {
		return nil, err
	}
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("encode %s: %w", what, err)
	}
	return append(b, '\n'), nil
}

// decodeChecked parses b strictly (at most limit bytes, one JSON object,
// known fields only) and checks every field (validate).
func decodeChecked[T any, P checked[T]](b []byte, limit int, what string) (*T, error) {
	if len(b) > limit {
		return nil, fmt.Errorf("%w: %s of %d bytes", ErrStaging, what, len(b))
	}
	v := new(T)
	if err := durable.DecodeJSON(b, v); err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrStaging, what, err)
	}
	if err := P(v).validate(); err != nil {
		return nil, err
	}
	return v, nil
}

// decodeState parses state.json strictly: one JSON object, known fields only,
// every field in range.
func decodeState(b []byte) (*state, error) { return decodeChecked[state](b, maxStateSize, "state") }

func (s *state) validate() error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: state: "+format, append([]any{ErrStaging}, args...)...)
	}
	if s.Version != stateVersion {
		return bad("version %d, want %d", s.Version, stateVersion)
	}
	if _, err := verify.ParseDigest(s.SnapshotID); err != nil {
		return bad("snapshot ID: %v", err)
	}
	switch s.Phase {
	case phaseFetching:
	case phaseStaged, phaseSwapping:
		if s.Staged.IsZero() {
			return bad("phase %s without the staged tree's identity", s.Phase)
		}
	default:
		return bad("unknown phase %q", s.Phase)
	}
	if len(s.Replace) > swap.MaxSetEntries || len(s.Entries) > swap.MaxSetEntries {
		return bad("replace list of %d names, %d entries", len(s.Replace), len(s.Entries))
	}
	for _, e := range s.Entries {
		if !slices.Contains(s.Replace, e.Name) || e.ID.IsZero() {
			return bad("entry %q not in the replace list, or without identity", e.Name)
		}
	}
	if s.Files < 0 || s.Files > verify.MaxFiles || s.BytesTotal < 0 || s.BytesFetched < 0 || s.BytesReused < 0 || s.ManifestSize < 0 {
		return bad("counts out of range")
	}
	return nil
}

// readState reads state.json; no file: nil, nil.
func readState(l layout) (*state, error) {
	b, err := readBounded(l.fs, l.state, maxStateSize)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return decodeState(b)
}

// writeState replaces state.json atomically and durably.
func writeState(l layout, s *state) error {
	b, err := s.encode()
	if err != nil {
		return err
	}
	return durable.WriteFile(l.fs, l.state, b, 0o600)
}

// openBounded opens a regular file of at most limit bytes, not following a
// symlink, and returns it with its size (durable.OpenBounded); another file
// is ErrStaging.
func openBounded(fsys durable.StageFS, p string, limit int64) (*os.File, int64, error) {
	f, size, err := durable.OpenBounded(fsys, p, limit)
	return f, size, stagingErr(err)
}

// readBounded reads a regular file of at most limit bytes, not following a
// symlink (durable.ReadBounded); another file is ErrStaging.
func readBounded(fsys durable.StageFS, p string, limit int64) ([]byte, error) {
	b, err := durable.ReadBounded(fsys, p, limit)
	return b, stagingErr(err)
}

// stagingErr wraps ErrStaging around a file durable refused to read.
func stagingErr(err error) error {
	if errors.Is(err, durable.ErrNotBounded) {
		return fmt.Errorf("%w: %w", ErrStaging, err)
	}
	return err
}

// readManifest reads manifest.bin back and checks it against the snapshot ID.
func readManifest(l layout, id verify.Digest) (*verify.Manifest, error) {
	m, _, err := readManifestWindow(l, id, verify.MaxTotalChunks)
	return m, err
}

// readManifestWindow is readManifest past window chunks without the chunk
// lists (decodeManifest).
func readManifestWindow(l layout, id verify.Digest, window int) (*verify.Manifest, []int64, error) {
	m, at, err := readManifestFile(l.fs, l.manifest, id, window)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: manifest: %w", ErrStaging, err)
	}
	return m, at, nil
}
