package server

import (
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/snapsync/snapsync/internal/durable"
	"github.com/snapsync/snapsync/verify"
)

// On disk, each checkpoint has two files in the state directory, named by
// its ID: ID.manifest (the canonical encoding) and ID.json (where the tree is,
// whether the server owns it, and its leases). The JSON is written last and
// removed first, so a checkpoint without one is an orphan.
const (
	stateVersion   = 1
	manifestExt    = ".manifest"
	stateExt       = ".json"
	maxStateSize   = 1 << 20
	maxStateLeases = 4096
)

type stateJSON struct {
	Version int         `json:"version"`
	ID      string      `json:"id"`
	Dir     string      `json:"dir"`
	Owned   bool        `json:"owned"`
	Leases  []leaseJSON `json:"leases"`
}

type leaseJSON struct {
	ID              string `json:"id"`
	TTLMillis       int64  `json:"ttl_ms"`
	ExpiresUnixNano int64  `json:"expires_unix_nano"`
}

func (c *catalog) statePath(id verify.Digest) string {
	return filepath.Join(c.stateDir, id.String()+stateExt)
}

func (c *catalog) manifestPath(id verify.Digest) string {
	return filepath.Join(c.stateDir, id.String()+manifestExt)
}

// writeManifest installs the encoding e's build wrote and synced as
// ID.manifest, durably.
func (c *catalog) writeManifest(e *entry) error {
	if err := os.Rename(e.tmp, c.manifestPath(e.id)); err != nil {
		return fmt.Errorf("install manifest of %s: %w", e.id.Short(), err)
	}
	e.tmp = ""
	if err := durable.SyncDir(c.stateDir); err != nil {
		return fmt.Errorf("install manifest of %s: %w", e.id.Short(), err)
	}
	return nil
}

// writeState persists e's state; callers hold c.mu.
func (c *catalog) writeState(e *entry) error {
	st := stateJSON{Version: stateVersion, ID: e.id.String(), Dir: e.dir, Owned: e.owned}
	for _, l := range e.leases {
		st.Leases = append(st.Leases, leaseJSON{ID: l.id, TTLMillis: l.ttl.Milliseconds(), ExpiresUnixNano: l.expires.UnixNano()})
	}
	slices.SortFunc(st.Leases, func(a, b leaseJSON) int { return strings.Compare(a.ID, b.ID) })
	b, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return fmt.Errorf("encode state of %s: %w", e.id.Short(), err)
	}
	if err := writeFileAtomic(c.statePath(e.id), b); err != nil {
		return err
	}
	for _, l := range e.leases {
		l.persisted = l.expires
	}
	return nil
}

// writeStateLogged persists e's state where a failure only costs a lease
// that reappears after a restart (it then expires again).
func (c *catalog) writeStateLogged(e *entry) {
	if err := c.writeState(e); err != nil {
		c.log.Warn().Err(err).Str("snapshot", e.id.Short()).Msg("persist lease state")
	}
}

// removeState removes the JSON first: without it the manifest is an orphan.
func (c *catalog) removeState(id verify.Digest) error {
	return errors.Join(removeFile(c.statePath(id)), removeFile(c.manifestPath(id)))
}

// decodeState parses and checks a state file read from disk (untrusted):
// the ID must be the one its name says, the tree an absolute clean path (for
// an owned checkpoint, a direct child of checkpoints, so the server never
// deletes anything else), and the leases well-formed and bounded.
func decodeState(b []byte, want verify.Digest, checkpoints string) (*stateJSON, error) {
	if len(b) > maxStateSize {
		return nil, fmt.Errorf("state of %d bytes exceeds %d", len(b), maxStateSize)
	}
	var st stateJSON
	if err := durable.DecodeJSON(b, &st); err != nil {
		return nil, fmt.Errorf("decode state: %w", err)
	}
	switch {
	case st.Version != stateVersion:
		return nil, fmt.Errorf("state version %d, want %d", st.Version, stateVersion)
	case st.ID != want.String():
		return nil, fmt.Errorf("state names snapshot %.12q, file is %s", st.ID, want.Short())
	case !filepath.IsAbs(st.Dir) || filepath.Clean(st.Dir) != st.Dir:
		return nil, fmt.Errorf("state dir %q is not absolute and clean", st.Dir)
	case st.Owned && filepath.Dir(st.Dir) != checkpoints:
		return nil, fmt.Errorf("owned state dir %q is not in %s", st.Dir, checkpoints)
	case len(st.Leases) > maxStateLeases:
		return nil, fmt.Errorf("%d leases exceed %d", len(st.Leases), maxStateLeases)
	}
	seen := make(map[string]bool, len(st.Leases))
	for _, l := range st.Leases {
		if !validLeaseID(l.ID) || seen[l.ID] || l.TTLMillis <= 0 || l.TTLMillis > int64(100*365*24*time.Hour/time.Millisecond) {
			return nil, fmt.Errorf("bad lease %.40q (ttl %d ms)", l.ID, l.TTLMillis)
		}
		seen[l.ID] = true
	}
	return &st, nil
}

func validLeaseID(id string) bool {
	if len(id) != leaseIDLen {
		return false
	}
	_, err := hex.DecodeString(id)
	return err == nil && strings.ToLower(id) == id
}
