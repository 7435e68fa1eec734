package verify

import (
	"fmt"
	"io/fs"
	"path"
	"sort"
)

// Limits on what a manifest may describe. A decoder checks them before it
// allocates, so a hostile manifest cannot make a client exhaust memory.
// MaxTotalChunks is 4 TiB of data at the default 1 MiB chunk size, counted
// over full entries: a hard link's entry has no chunks of its own and counts
// only against MaxFiles, so 10,000 OM snapshots linking one om.db cost paths,
// not chunks. A client plans MaxTotalChunks in under 1 GiB (e2e
// BenchmarkHostileValidAtLimits).
const (
	MaxPathLen     = 4096
	MaxFiles       = 1 << 20
	MaxDirs        = 1 << 20
	MaxLabels      = 64
	MaxLabelLen    = 4096
	MaxEngineLen   = 64
	MinChunkSize   = 4 << 10
	MaxChunkSize   = 3 << 20 // a chunk plus framing stays under gRPC's 4 MiB default
	MaxFileSize    = 1 << 42 // 4 TiB
	MaxTotalChunks = 1 << 22
	// MaxManifestSize bounds a manifest's canonical encoding.
	MaxManifestSize = 1 << 30
)

// Manifest describes one checkpoint: metadata, chunking parameters, and every
// directory and file of its tree. Its canonical encoding (Encode) is hashed to
// give the snapshot ID.
type Manifest struct {
	Meta      Meta
	ChunkSize uint32
	// Dirs lists every directory below the root, sorted by path. Each file's
	// parent directories must be listed.
	Dirs []Dir
	// Files lists every regular file, sorted by path.
	Files []File
}

// Meta is what a checkpoint reflects and where it came from.
type Meta struct {
	Term            uint64
	Index           uint64
	Engine          string
	CreatedUnixNano int64
	Labels          map[string]string
}

// Dir is a directory of the tree.
type Dir struct {
	Path string
	Mode fs.FileMode // permission bits only
}

// File is a regular file of the tree.
type File struct {
	Path string
	Size int64
	Mode fs.FileMode // permission bits only
	// LinkTo is -1 for a full entry, or the index of an earlier full entry
	// that is the same inode on the source (a hard link): the first path of
	// the group. A link has that entry's Size and Mode and shares its Chunks
	// slice (Decode and the server make it so, and the encoding holds only
	// the path and the index), so a link costs its path, not a chunk list.
	LinkTo int
	Chunks []Chunk
}

// Chunk is a run of a file's bytes, identified by the SHA-256 of those bytes.
type Chunk struct {
	Length uint32
	Digest Digest
}

// Offsets returns the byte offset of each chunk of f.
func (f *File) Offsets() []int64 {
	offs := make([]int64, len(f.Chunks))
	var off int64
	for i, c := range f.Chunks {
		offs[i] = off
		off += int64(c.Length)
	}
	return offs
}

// Offset returns the byte offset of chunk j of a file of a valid manifest
// whose chunk size is chunkSize: every chunk before it is chunkSize long.
func Offset(chunkSize uint32, j int) int64 { return int64(j) * int64(chunkSize) }

// ID returns the snapshot ID: the digest of the canonical encoding.
func (m *Manifest) ID() (Digest, error) {
	b, err := m.Encode()
	if err != nil {
		return Digest{}, err
	}
	return Sum(b), nil
}

// TotalBytes returns the sum of file sizes, counting each hard-link group once.
func (m *Manifest) TotalBytes() int64 {
	var n int64
	for i := range m.Files {
		if m.Files[i].LinkTo < 0 {
			n += m.Files[i].Size
		}
	}
	return n
}

// Sort puts Dirs and Files in canonical order and fixes LinkTo indexes to
// match. Call it after building a manifest, before Validate or Encode.
func (m *Manifest) Sort() {
	sort.Slice(m.Dirs, func(i, j int) bool { return m.Dirs[i].Path < m.Dirs[j].Path })
	targets := make([]string, len(m.Files))
	for i, f := range m.Files {
		if f.LinkTo >= 0 && f.LinkTo < len(m.Files) {
			targets[i] = m.Files[f.LinkTo].Path
		}
	}
	order := make([]int, len(m.Files))
	for i := range order {
		order[i] = i
	}
	sort.Slice(order, func(a, b int) bool { return m.Files[order[a]].Path < m.Files[order[b]].Path })
	sorted := make([]File, len(m.Files))
	sortedTargets := make([]string, len(m.Files))
	for newIdx, oldIdx := range order {
		sorted[newIdx] = m.Files[oldIdx]
		sortedTargets[newIdx] = targets[oldIdx]
	}
	m.Files = sorted
	m.relink(sortedTargets)
}

// relink points every member of a hard-link group at the group's first path.
func (m *Manifest) relink(targets []string) {
	index := make(map[string]int, len(m.Files))
	for i := range m.Files {
		index[m.Files[i].Path] = i
	}
	leader := make(map[int]int) // any member -> first member
	for i := range m.Files {
		m.Files[i].LinkTo = -1
		if targets[i] == "" {
			continue
		}
		j, ok := index[targets[i]]
		if !ok {
			continue
		}
		a, b := root(leader, i), root(leader, j)
		if a == b {
			continue
		}
		if a < b {
			leader[b] = a
		} else {
			leader[a] = b
		}
	}
	for i := range m.Files {
		if r := root(leader, i); r != i {
			m.Files[i].LinkTo = r
		}
	}
}

func root(parent map[int]int, i int) int {
	for {
		p, ok := parent[i]
		if !ok {
			return i
		}
		i = p
	}
}

// Validate checks every rule a manifest must keep: bounds, clean unique paths
// in canonical order, parent directories listed, chunks of exactly the chunk
// size but each file's last (1..chunk size), so that they add up to the
// file's size, and hard links that point at an identical earlier file.
func (m *Manifest) Validate() error {
	if err := m.validateHeader(); err != nil {
		return err
	}
	dirs, err := m.validateDirs()
	if err != nil {
		return err
	}
	return m.validateFiles(dirs)
}

func (m *Manifest) validateHeader() error {
	if m.ChunkSize < MinChunkSize || m.ChunkSize > MaxChunkSize {
		return fmt.Errorf("%w: chunk size %d outside [%d, %d]", ErrBadManifest, m.ChunkSize, MinChunkSize, MaxChunkSize)
	}
	if len(m.Meta.Engine) > MaxEngineLen {
		return fmt.Errorf("%w: engine name longer than %d", ErrTooLarge, MaxEngineLen)
	}
	if len(m.Meta.Labels) > MaxLabels {
		return fmt.Errorf("%w: %d labels, at most %d", ErrTooLarge, len(m.Meta.Labels), MaxLabels)
	}
	for k, v := range m.Meta.Labels {
		if len(k) > MaxLabelLen || len(v) > MaxLabelLen {
			return fmt.Errorf("%w: label %.40q longer than %d", ErrTooLarge, k, MaxLabelLen)
		}
	}
	if len(m.Dirs) > MaxDirs || len(m.Files) > MaxFiles {
		return fmt.Errorf("%w: %d dirs, %d files", ErrTooLarge, len(m.Dirs), len(m.Files))
	}
	return nil
}

func (m *Manifest) validateDirs() (map[string]bool, error) {
	dirs := make(map[string]bool, len(m.Dirs))
	for i, d := range m.Dirs {
		if err := ValidatePath(d.Path); err != nil {
			return nil, fmt.Errorf("dir %d: %w", i, err)
		}
		if i > 0 && m.Dirs[i-1].Path >= d.Path {
			return nil, fmt.Errorf("%w: dir %q out of order or duplicate", ErrBadManifest, d.Path)
		}
		if parent := path.Dir(d.Path); parent != "." && !dirs[parent] {
			return nil, fmt.Errorf("%w: parent of dir %q not listed", ErrBadManifest, d.Path)
		}
		if d.Mode&^fs.ModePerm != 0 {
			return nil, fmt.Errorf("%w: dir %q has mode %o beyond permission bits", ErrBadManifest, d.Path, uint32(d.Mode))
		}
		dirs[d.Path] = true
	}
	return dirs, nil
}

func (m *Manifest) validateFiles(dirs map[string]bool) error {
	total := 0
	for i := range m.Files {
		f := &m.Files[i]
		if err := ValidatePath(f.Path); err != nil {
			return fmt.Errorf("file %d: %w", i, err)
		}
		if i > 0 && m.Files[i-1].Path >= f.Path {
			return fmt.Errorf("%w: file %q out of order or duplicate", ErrBadManifest, f.Path)
		}
		if dirs[f.Path] {
			return fmt.Errorf("%w: %q is both a file and a directory", ErrBadManifest, f.Path)
		}
		if parent := path.Dir(f.Path); parent != "." && !dirs[parent] {
			return fmt.Errorf("%w: parent of file %q not listed", ErrBadManifest, f.Path)
		}
		if f.Mode&^fs.ModePerm != 0 {
			return fmt.Errorf("%w: file %q has mode %o beyond permission bits", ErrBadManifest, f.Path, uint32(f.Mode))
		}
		if f.LinkTo < 0 {
			total += len(f.Chunks) // a link's chunks are its group's first entry's
		}
		if total > MaxTotalChunks {
			return fmt.Errorf("%w: more than %d chunks", ErrTooLarge, MaxTotalChunks)
		}
		if err := m.validateFile(i); err != nil {
			return err
		}
	}
	return nil
}

func (m *Manifest) validateFile(i int) error {
	f := &m.Files[i]
	if f.LinkTo == -1 {
		if f.Size < 0 || f.Size > MaxFileSize {
			return fmt.Errorf("%w: file %q size %d", ErrTooLarge, f.Path, f.Size)
		}
		return m.checkChunkShape(f)
	}
	if f.LinkTo < 0 || f.LinkTo >= i {
		return fmt.Errorf("%w: file %q links to index %d, not an earlier file", ErrBadManifest, f.Path, f.LinkTo)
	}
	t := &m.Files[f.LinkTo]
	if t.LinkTo != -1 {
		return fmt.Errorf("%w: file %q links to %q, itself a link", ErrBadManifest, f.Path, t.Path)
	}
	if t.Size != f.Size || t.Mode != f.Mode || !sameChunks(t.Chunks, f.Chunks) {
		return fmt.Errorf("%w: file %q links to %q, whose size, mode or chunks differ", ErrBadManifest, f.Path, t.Path)
	}
	return nil
}

// ChunkCount is the number of chunks of a file of size bytes cut into
// chunks of chunkSize bytes: every chunk but the last is exactly chunkSize,
// the last 1..chunkSize, and an empty file has none.
func ChunkCount(size int64, chunkSize uint32) int64 {
	if size <= 0 || chunkSize == 0 {
		return 0
	}
	return (size-1)/int64(chunkSize) + 1
}

// ChunkLength is the length of chunk j of a file of size bytes.
func ChunkLength(size int64, chunkSize uint32, j int) uint32 {
	return uint32(min(int64(chunkSize), size-int64(j)*int64(chunkSize)))
}

// checkChunkShape enforces the one shape a file's chunks may have (see
// CheckChunkShape), so that the chunk count follows from the size (and memory
// from the data, not from the manifest's say-so).
func (m *Manifest) checkChunkShape(f *File) error {
	if err := CheckChunkShape(f.Size, m.ChunkSize, f.Chunks); err != nil {
		return fmt.Errorf("%w: file %q of %d bytes %w", ErrBadManifest, f.Path, f.Size, err)
	}
	return nil
}

// CheckChunkShape reports whether chunks are the one chunking of a file of
// size bytes (0..MaxFileSize) by chunkSize (MinChunkSize..MaxChunkSize): every
// chunk but the last is exactly chunkSize, the last 1..chunkSize, and an empty
// file has none. Anything that records a file's chunks (a manifest, a digest
// cache) holds them to this rule.
func CheckChunkShape(size int64, chunkSize uint32, chunks []Chunk) error {
	if chunkSize < MinChunkSize || chunkSize > MaxChunkSize || size < 0 || size > MaxFileSize {
		return fmt.Errorf("cannot be cut into chunks of %d bytes", chunkSize)
	}
	if n := ChunkCount(size, chunkSize); int64(len(chunks)) != n {
		return fmt.Errorf("has %d chunks, want %d of %d bytes", len(chunks), n, chunkSize)
	}
	for j, c := range chunks {
		if want := ChunkLength(size, chunkSize, j); c.Length != want {
			return fmt.Errorf("chunk %d is %d bytes, want %d (every chunk but the last is the chunk size %d)",
				j, c.Length, want, chunkSize)
		}
	}
	return nil
}

func sameChunks(a, b []Chunk) bool {
	if len(a) != len(b) {
		return false
	}
	if len(a) == 0 || &a[0] == &b[0] {
		return true // a link shares its group's slice: no need to compare
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
