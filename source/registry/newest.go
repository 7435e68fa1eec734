package registry

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/snapsync/snapsync/internal/durable"
)

// stateFile, in Root, remembers the newest registration across restarts.
const stateFile = ".snapsync-registry.json"

// maxStateSize bounds the state file read back: a directory path and the
// labels of one registration.
const maxStateSize = 1 << 20

type state struct {
	Dir             string            `json:"dir"`
	Term            uint64            `json:"term"`
	Index           uint64            `json:"index"`
	CreatedUnixNano int64             `json:"created_unix_nano"`
	Labels          map[string]string `json:"labels,omitempty"`
}

// save writes e to the state file durably (internal/durable: tmp, fsync,
// rename, fsync the directory).
func (s *Source) save(e *entry) error {
	b, err := json.Marshal(state{Dir: e.dir, Term: e.meta.Term, Index: e.meta.Index,
		CreatedUnixNano: e.meta.CreatedUnixNano, Labels: e.meta.Labels})
	if err != nil {
		return err
	}
	if err := durable.WriteFile(durable.OS(), filepath.Join(s.root, stateFile), b, 0o600); err != nil {
		return fmt.Errorf("save registry state: %w", err)
	}
	return nil
}

// load restores the newest registration if its directory still validates;
// a missing file is no registration, a bad one is logged and ignored.
func (s *Source) load() {
	b, err := durable.ReadBounded(durable.OS(), filepath.Join(s.root, stateFile), maxStateSize)
	if errors.Is(err, os.ErrNotExist) {
		return
	}
	var st state
	if err == nil {
		err = durable.DecodeJSON(b, &st)
	}
	if err == nil {
		_, err = s.validate(context.Background(), st.Dir)
	}
	if err != nil {
		s.cfg.Logger.Warn().Err(err).Msg("ignoring saved registry state")
		return
	}
	s.newest = &entry{dir: st.Dir, meta: s.meta(st.Term, st.Index, st.Labels)}
	s.newest.meta.CreatedUnixNano = st.CreatedUnixNano
}
