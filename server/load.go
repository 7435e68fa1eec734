package server

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/snapsync/snapsync/internal/digestcache"
	"github.com/snapsync/snapsync/internal/durable"
	"github.com/snapsync/snapsync/verify"
)

// load restores the checkpoints persisted in the work dir that an unexpired
// lease still holds, and removes everything else: expired or unreadable
// state, leftovers of interrupted writes, and checkpoint trees that no state
// names (a crash between making a checkpoint and recording it).
func (s *Server) load(now time.Time) error {
	names, err := os.ReadDir(s.stateDir)
	if err != nil {
		return fmt.Errorf("read state dir: %w", err)
	}
	keep := make(map[string]bool)
	for _, n := range names {
		name := n.Name()
		id, err := verify.ParseDigest(strings.TrimSuffix(name, stateExt))
		switch {
		case strings.HasSuffix(name, tmpSuffix):
			s.removeLogged(filepath.Join(s.stateDir, name))
		case !strings.HasSuffix(name, stateExt):
			continue
		case err != nil:
			s.log.Warn().Str("file", name).Msg("unexpected file in state dir")
		default:
			s.loadOne(id, now, keep)
		}
	}
	s.removeOrphanManifests(names)
	return s.removeOrphanTrees(keep)
}

// loadOne restores one checkpoint or removes its state.
func (s *Server) loadOne(id verify.Digest, now time.Time, keep map[string]bool) {
	e, err := s.readEntry(id, now)
	if err != nil {
		s.log.Warn().Err(err).Str("snapshot", id.Short()).Msg("dropping persisted checkpoint")
		if err := s.catalog.removeState(id); err != nil {
			s.log.Warn().Err(err).Str("snapshot", id.Short()).Msg("remove checkpoint state")
		}
		return
	}
	s.catalog.mu.Lock()
	defer s.catalog.mu.Unlock()
	s.catalog.byID[id] = e
	for lid, l := range e.leases {
		if _, dup := s.catalog.leases[lid]; dup {
			delete(e.leases, lid)
			continue
		}
		s.catalog.leases[lid] = l
	}
	s.catalog.writeStateLogged(e)
	keep[e.dir] = true
	s.log.Info().Str("snapshot", id.Short()).Str("dir", e.dir).Int("leases", len(e.leases)).Msg("checkpoint restored")
}

// readEntry reads and checks one checkpoint's state, manifest and tree.
func (s *Server) readEntry(id verify.Digest, now time.Time) (*entry, error) {
	b, err := durable.ReadBounded(durable.OS(), s.catalog.statePath(id), maxStateSize)
	if err != nil {
		return nil, err
	}
	st, err := decodeState(b, id, s.cpDir)
	if err != nil {
		return nil, err
	}
	e := &entry{dir: st.Dir, owned: st.Owned, leases: make(map[string]*lease)}
	for _, l := range st.Leases {
		if exp := time.Unix(0, l.ExpiresUnixNano); now.Before(exp) {
			e.leases[l.ID] = &lease{id: l.ID, ent: e, ttl: time.Duration(l.TTLMillis) * time.Millisecond, expires: exp}
		}
	}
	if len(e.leases) == 0 {
		return nil, errors.New("every lease expired")
	}
	lay, err := readLayout(s.catalog.manifestPath(id), id, st.Dir)
	if err != nil {
		return nil, err
	}
	e.built = &built{lay: lay, id: id}
	if e.chunks, err = indexChunks(s.catalog.manifestPath(id), lay, s.catalog.key); err != nil {
		s.log.Warn().Err(err).Str("snapshot", id.Short()).Msg("checkpoint not served by digest")
	}
	return e, nil
}

// readLayout reads the manifest at path, which must hash to id, file by
// file (verify.Scan: its chunk lists are never held), checks each file is in
// the tree at root with its size, and returns its layout.
func readLayout(path string, id verify.Digest, root string) (*layout, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close() // read-only: nothing to lose
	info, err := f.Stat()
	if err != nil {
		return nil, err
	}
	h := sha256.New()
	lay := &layout{}
	var links column[int32]
	m, err := verify.Scan(io.TeeReader(f, h), info.Size(), func(_ int, f *verify.File) error {
		key, err := statFile(root, f)
		if err != nil {
			return err
		}
		lay.paths.add(f.Path)
		lay.stats.add(key)
		links.add(int32(f.LinkTo))
		return nil
	})
	if err != nil {
		return nil, err
	}
	if err := verify.CheckDigest("manifest", id, verify.Digest(h.Sum(nil))); err != nil {
		return nil, err
	}
	lay.meta, lay.chunkSize = m.Meta, m.ChunkSize
	for i := range lay.stats.len() {
		k := lay.stats.at(i)
		k.ChunkSize = m.ChunkSize
		lay.stats.set(i, k)
	}
	head := verify.AppendHead(nil, &m.Meta, m.ChunkSize, m.Dirs, lay.Files())
	if err := lay.place(len(head), func(i int) int { return int(links.at(i)) }); err != nil {
		return nil, err
	}
	if lay.encSize != info.Size() {
		return nil, fmt.Errorf("manifest of %d bytes placed as %d", info.Size(), lay.encSize)
	}
	return lay, nil
}

// statFile checks that f is in the tree at root with its size, and returns
// its stat key (whose ChunkSize the caller sets).
func statFile(root string, f *verify.File) (digestcache.Key, error) {
	info, err := durable.Lstat(filepath.Join(root, filepath.FromSlash(f.Path)))
	if err != nil {
		return digestcache.Key{}, err
	}
	if !info.Mode.IsRegular() || info.Size != f.Size {
		return digestcache.Key{}, fmt.Errorf("%w: %q is %v of %d bytes, want a regular file of %d", ErrChanged, f.Path, info.Mode.Type(), info.Size, f.Size)
	}
	return digestcache.KeyOf(info, 0), nil
}

// removeOrphanManifests removes manifests whose checkpoint was not restored.
func (s *Server) removeOrphanManifests(names []os.DirEntry) {
	for _, n := range names {
		id, err := verify.ParseDigest(strings.TrimSuffix(n.Name(), manifestExt))
		if !strings.HasSuffix(n.Name(), manifestExt) || err != nil {
			continue
		}
		if _, ok := s.catalog.byID[id]; !ok {
			s.removeLogged(filepath.Join(s.stateDir, n.Name()))
		}
	}
}

// removeOrphanTrees removes checkpoint trees no restored state names.
func (s *Server) removeOrphanTrees(keep map[string]bool) error {
	names, err := os.ReadDir(s.cpDir)
	if err != nil {
		return fmt.Errorf("read checkpoints dir: %w", err)
	}
	for _, n := range names {
		if p := filepath.Join(s.cpDir, n.Name()); !keep[p] {
			s.log.Info().Str("dir", p).Msg("removing orphaned checkpoint")
			s.removeTrees([]string{p})
		}
	}
	return nil
}

func (s *Server) removeLogged(path string) {
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		s.log.Warn().Err(err).Str("file", path).Msg("remove leftover")
	}
}
