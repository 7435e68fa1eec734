package repo

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/snapsync/snapsync/internal/durable"
	"github.com/snapsync/snapsync/verify"
)

// maxInfoSize bounds a snapshot object: its labels are bounded by the
// manifest's (verify.MaxLabels of verify.MaxLabelLen), JSON-escaped.
const maxInfoSize = 2 * verify.MaxLabels * verify.MaxLabelLen * 6

// SnapshotInfo describes a committed snapshot; it is the snapshot object
// snapshots/<id>.json, stored as JSON.
type SnapshotInfo struct {
	ID       verify.Digest     `json:"-"`
	Term     uint64            `json:"term"`
	Index    uint64            `json:"index"`
	Engine   string            `json:"engine"`
	Created  time.Time         `json:"created"`   // when the checkpoint was made
	BackedUp time.Time         `json:"backed_up"` // when the backup committed
	Bytes    int64             `json:"bytes"`     // file bytes, each hard-link group once
	Files    int               `json:"files"`
	Chunks   int               `json:"chunks"` // distinct chunks
	Labels   map[string]string `json:"labels,omitempty"`
}

// infoJSON is the snapshot object's encoding: SnapshotInfo with its version and ID.
type infoJSON struct {
	Version int    `json:"version"`
	ID      string `json:"id"`
	SnapshotInfo
}

// Commit makes snapshot id visible: it checks that its manifest verifies and
// that every chunk it names is present, then writes the snapshot object, the
// commit point. A snapshot exists iff its snapshot object exists and its
// manifest verifies.
func (r *Repo) Commit(ctx context.Context, id verify.Digest, opts ...CommitOption) (SnapshotInfo, error) {
	var co commitOptions
	for _, o := range opts {
		o(&co)
	}
	m, err := r.Manifest(ctx, id)
	if err != nil {
		return SnapshotInfo{}, err
	}
	// Packs, then their index, then (below) the commit point.
	if err := r.Flush(ctx); err != nil {
		return SnapshotInfo{}, fmt.Errorf("repo: commit %s: %w", id, err)
	}
	chunks := distinctChunks(m)
	if err := r.checkPresent(ctx, chunks); err != nil {
		return SnapshotInfo{}, fmt.Errorf("repo: commit %s: %w", id, err)
	}
	info := infoOf(id, m, len(chunks), r.opts.Now())
	if old, err := r.info(ctx, id); err == nil {
		// Committed before (a second backup of the same checkpoint): the
		// labels given then stay unless given again.
		if info.Labels == nil && len(old.Labels) > 0 {
			info.Labels = make(map[string]string, len(old.Labels))
		}
		maps.Copy(info.Labels, old.Labels)
	}
	if err := co.addLabels(&info); err != nil {
		return SnapshotInfo{}, fmt.Errorf("repo: commit %s: %w", id, err)
	}
	b, err := json.Marshal(infoJSON{Version: infoVersion, ID: id.String(), SnapshotInfo: info})
	if err == nil {
		b, err = r.crypt.sealObject(b, r.snapshotKey(id))
	}
	if err != nil {
		return SnapshotInfo{}, fmt.Errorf("repo: commit %s: %w", id, err)
	}
	if err := r.putBytes(ctx, r.snapshotKey(id), b); err != nil {
		return SnapshotInfo{}, fmt.Errorf("repo: commit %s: %w", id, err)
	}
	return info, nil
}

// infoOf describes the manifest m of snapshot id committed at now.
func infoOf(id verify.Digest, m *verify.Manifest, chunks int, now time.Time) SnapshotInfo {
	return SnapshotInfo{
		ID: id, Term: m.Meta.Term, Index: m.Meta.Index, Engine: m.Meta.Engine,
		Created:  time.Unix(0, m.Meta.CreatedUnixNano).UTC(),
		BackedUp: now.UTC(), Bytes: m.TotalBytes(), Files: len(m.Files), Chunks: chunks,
		Labels: maps.Clone(m.Meta.Labels),
	}
}

// distinctChunks returns the length of each distinct chunk m names.
func distinctChunks(m *verify.Manifest) map[verify.Digest]uint32 {
	out := make(map[verify.Digest]uint32)
	for i := range m.Files {
		for _, c := range m.Files[i].Chunks {
			out[c.Digest] = c.Length
		}
	}
	return out
}

// checkPresent returns an error naming a chunk of want the repository lacks.
// In format 2 only an index object counts, not a pack being filled.
func (r *Repo) checkPresent(ctx context.Context, want map[verify.Digest]uint32) error {
	return r.forEach(ctx, slices.Collect(maps.Keys(want)), func(ctx context.Context, d verify.Digest) error {
		has := r.HasChunk
		if r.format >= Format2 {
			has = func(ctx context.Context, d verify.Digest) (bool, error) {
				_, ok, err := r.lookup(ctx, r.crypt.chunkID(d))
				return ok, err
			}
		}
		ok, err := has(ctx, d)
		if err == nil && !ok {
			err = fmt.Errorf("chunk %s: %w", d, ErrNotFound)
		}
		return err
	})
}

// Listing is what List found under snapshots/.
type Listing struct {
	Snapshots []SnapshotInfo // the committed snapshots, oldest first
	Problems  []Problem      // what is there but no snapshot, by key
}

// Problem is an entry of a listing that is none of the repository's
// objects: a name that does not parse as the key it should be, or an object
// that is no regular file (a symlink, a FIFO, a device, a directory). It is
// reported, never skipped silently: it may be a snapshot gone astray.
type Problem struct {
	Key    string // the entry's name
	Reason string // what is wrong with it
}

func (p Problem) String() string { return p.Key + ": " + p.Reason }

// Summary names the first of ps and how many more there are, for an error.
func Summary(ps []Problem) string {
	switch len(ps) {
	case 0:
		return "nothing"
	case 1:
		return ps[0].String()
	}
	return fmt.Sprintf("%s, and %d more", ps[0], len(ps)-1)
}

// List returns every committed snapshot, oldest first (by the checkpoint's
// creation time, then index, then ID), and every entry under snapshots/ that
// is no snapshot (Listing.Problems). A snapshot object that does not decode is
// an error: the repository needs repair, not a silently shorter list.
func (r *Repo) List(ctx context.Context) (Listing, error) {
	var l Listing
	for key, err := range r.b.List(ctx, snapshotPrefix) {
		if err != nil {
			return Listing{}, fmt.Errorf("repo: list snapshots: %w", err)
		}
		name, err := parseKeyID(key, snapshotPrefix, snapshotSuffix)
		if err != nil {
			l.Problems = append(l.Problems, Problem{Key: key, Reason: "not the name of a snapshot object (" + snapshotPrefix + "ID" + snapshotSuffix + ")"})
			continue
		}
		info, err := r.readInfo(ctx, name)
		var nr *NotRegularError
		switch {
		case errors.Is(err, ErrNotFound):
			continue // pruned meanwhile
		case errors.As(err, &nr):
			l.Problems = append(l.Problems, Problem{Key: key, Reason: nr.Kind + ", not a regular file"})
			continue
		case err != nil:
			return Listing{}, err
		}
		l.Snapshots = append(l.Snapshots, info)
	}
	slices.SortFunc(l.Snapshots, compareInfo)
	slices.SortFunc(l.Problems, func(a, b Problem) int { return strings.Compare(a.Key, b.Key) })
	return l, nil
}

func compareInfo(a, b SnapshotInfo) int {
	if c := a.Created.Compare(b.Created); c != 0 {
		return c
	}
	if a.Index != b.Index {
		return cmpU64(a.Index, b.Index)
	}
	return bytes.Compare(a.ID[:], b.ID[:])
}

func cmpU64(a, b uint64) int {
	if a < b {
		return -1
	}
	return 1
}

// Latest returns the newest committed snapshot; an empty repository is an
// error matching ErrNotFound.
func (r *Repo) Latest(ctx context.Context) (SnapshotInfo, error) {
	l, err := r.List(ctx)
	if err != nil {
		return SnapshotInfo{}, err
	}
	return l.Latest()
}

// Latest returns the newest snapshot of l; none is an error matching
// ErrNotFound.
func (l Listing) Latest() (SnapshotInfo, error) {
	if len(l.Snapshots) == 0 {
		return SnapshotInfo{}, fmt.Errorf("repo: no snapshot: %w", ErrNotFound)
	}
	return l.Snapshots[len(l.Snapshots)-1], nil
}

// info reads the snapshot object of snapshot id.
func (r *Repo) info(ctx context.Context, id verify.Digest) (SnapshotInfo, error) {
	return r.readInfo(ctx, r.crypt.snapshotName(id))
}

// readInfo reads the snapshot object of the snapshot whose objects are
// named name (its ID, in a plaintext repository).
func (r *Repo) readInfo(ctx context.Context, name verify.Digest) (SnapshotInfo, error) {
	key := SnapshotKey(name)
	b, err := r.getSmall(ctx, key, int64(maxInfoSize+r.crypt.overhead()))
	if err == nil {
		b, err = r.crypt.openObject(b, key)
	}
	if err != nil {
		return SnapshotInfo{}, fmt.Errorf("repo: snapshot %s: %w", name, err)
	}
	return decodeInfo(r.crypt, name, b)
}

// decodeInfo parses the snapshot object of the snapshot whose objects are
// named name (its ID, if c is nil): the ID it holds must be that name's.
func decodeInfo(c *crypt, name verify.Digest, b []byte) (SnapshotInfo, error) {
	var j infoJSON
	if err := durable.DecodeJSON(b, &j); err != nil {
		if v, ok := versionOf(b); ok && v != infoVersion {
			return SnapshotInfo{}, fmt.Errorf("repo: snapshot %s: %w: %d", name, ErrVersion, v)
		}
		return SnapshotInfo{}, fmt.Errorf("repo: snapshot %s: %w: %v", name, ErrCorrupt, err)
	}
	id, err := verify.ParseDigest(j.ID)
	switch {
	case j.Version != infoVersion:
		return SnapshotInfo{}, fmt.Errorf("repo: snapshot %s: %w: %d", name, ErrVersion, j.Version)
	case err != nil || c.snapshotName(id) != name:
		return SnapshotInfo{}, fmt.Errorf("repo: snapshot %s: %w: snapshot object names %.64q", name, ErrCorrupt, j.ID)
	case j.Bytes < 0 || j.Files < 0 || j.Chunks < 0 || len(j.Labels) > verify.MaxLabels:
		return SnapshotInfo{}, fmt.Errorf("repo: snapshot %s: %w: counts out of range", name, ErrCorrupt)
	}
	j.SnapshotInfo.ID = id
	return j.SnapshotInfo, nil
}
