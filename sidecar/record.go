package sidecar

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"time"

	"connectrpc.com/connect"

	"github.com/snapsync/snapsync/client"
	"github.com/snapsync/snapsync/internal/durable"
	"github.com/snapsync/snapsync/swap"
	"github.com/snapsync/snapsync/verify"
)

// recordVersion is the version of the record this code writes and reads.
const recordVersion = 1

// The states of a record.
const (
	recPreparing = "PREPARING"
	recPrepared  = "PREPARED"
	recFailed    = "FAILED"
)

// record is a destination's install state as the service keeps it on disk:
// the note (client.NoteName) of the staging area the install uses, so that
// it goes with the area (Commit and Abort remove both) and a restarted
// service finds it. IDLE has no record. It is read back from disk and so
// is untrusted: decodeRecord checks every field.
type record struct {
	Version int    `json:"version"`
	State   string `json:"state"`
	// Sources, MinIndex and Replace are the Prepare's request.
	Sources  []string `json:"sources"`
	MinIndex uint64   `json:"min_index"`
	Replace  []string `json:"replace,omitempty"`
	// SnapshotID, Term and Index name the prepared snapshot (PREPARED); the
	// rest of its description is the staging area's own state.json.
	SnapshotID string `json:"snapshot_id,omitempty"`
	Term       uint64 `json:"term,omitempty"`
	Index      uint64 `json:"index,omitempty"`
	// Error, Reason and Code are why the Prepare failed (FAILED), or why the
	// last Commit of what is prepared failed (PREPARED).
	Error  string `json:"error,omitempty"`
	Reason string `json:"reason,omitempty"`
	Code   string `json:"code,omitempty"`
	// Started is when the Prepare began; Updated when the record was
	// written.
	Started time.Time `json:"started"`
	Updated time.Time `json:"updated"`
}

func (r *record) validate() error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: sidecar record: "+format, append([]any{client.ErrStaging}, args...)...)
	}
	if r.Version != recordVersion {
		return bad("version %d, want %d", r.Version, recordVersion)
	}
	switch r.State {
	case recPreparing, recFailed:
	case recPrepared:
		if _, err := verify.ParseDigest(r.SnapshotID); err != nil {
			return bad("snapshot ID: %v", err)
		}
	default:
		return bad("unknown state %q", r.State)
	}
	if len(r.Sources) == 0 || len(r.Sources) > maxSources {
		return bad("%d sources", len(r.Sources))
	}
	for _, s := range r.Sources {
		if _, err := checkSource(s); err != nil {
			return bad("source: %v", err)
		}
	}
	if len(r.Replace) > swap.MaxSetEntries {
		return bad("replace list of %d names", len(r.Replace))
	}
	if r.Code != "" {
		var c connect.Code
		if err := c.UnmarshalText([]byte(r.Code)); err != nil {
			return bad("code %q", r.Code)
		}
	}
	return nil
}

func (r *record) encode() ([]byte, error) {
	if err := r.validate(); err != nil {
		return nil, err
	}
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("encode sidecar record: %w", err)
	}
	return append(b, '\n'), nil
}

// decodeRecord parses a record strictly: one JSON object, known fields
// only, every field in range.
func decodeRecord(b []byte) (*record, error) {
	var r record
	if err := durable.DecodeJSON(b, &r); err != nil {
		return nil, fmt.Errorf("%w: sidecar record: %v", client.ErrStaging, err)
	}
	if err := r.validate(); err != nil {
		return nil, err
	}
	return &r, nil
}

// failure sets r's error, reason and code from err.
func (r *record) failure(err error) {
	code, why, _ := classify(err)
	r.Error, r.Reason, r.Code = err.Error(), why, code.String()
}

// storedError is an error read back from a record: its message, reason and
// code as they were when it happened.
type storedError struct {
	msg    string
	reason string
	code   connect.Code
}

func (e *storedError) Error() string { return e.msg }

// restoredError returns the error r records, nil if none.
func (r *record) restoredError() error {
	if r.Error == "" {
		return nil
	}
	e := &storedError{msg: r.Error, reason: r.Reason, code: connect.CodeInternal}
	if r.Code != "" {
		_ = e.code.UnmarshalText([]byte(r.Code)) // validate has checked it
	}
	return e
}

// stagingArea is the staging area of dest's install with the replace list:
// the one package client uses (Dest's sibling, or SetStagingName in Dest).
func (s *InstallService) stagingArea(dest string, replace []string) string {
	cfg := s.clientConfig(dest)
	cfg.Replace = replace
	cfg.EnsureDefaults()
	return cfg.StagingDir
}

// stagingAreas are the staging areas dest's install may use, the whole-tree
// one first.
func (s *InstallService) stagingAreas(dest string) []string {
	return []string{s.stagingArea(dest, nil), filepath.Join(dest, client.SetStagingName)}
}

// withinOf reaches dest's staging areas as its installs do: from its root
// down, following no symlink (roots.within), so that a record is never read
// or written outside the allowed roots.
func (s *InstallService) withinOf(dest string) client.AreaOption {
	return client.WithinDir(s.roots.within(dest))
}

// saveRecord writes rec as the note of the staging area of dest's install
// with rec's replace list. A failure is logged: the state in memory stays
// right, and only a restart would lose it.
func (s *InstallService) saveRecord(dest string, rec *record) {
	rec.Version, rec.Updated = recordVersion, time.Now()
	b, err := rec.encode()
	if err == nil {
		err = client.WriteNote(s.stagingArea(dest, rec.Replace), b, s.withinOf(dest))
	}
	if err != nil {
		s.log.Warn().Err(err).Str("dest", dest).Str("state", rec.State).Msg("save install state")
	}
}

// dropRecords removes dest's records (Abort).
func (s *InstallService) dropRecords(dest string) {
	for _, a := range s.stagingAreas(dest) {
		if err := client.RemoveNote(a, s.withinOf(dest)); err != nil {
			s.log.Warn().Err(err).Str("dest", dest).Msg("remove install state")
		}
	}
}

// loadRecord reads dest's newest record and the staging area it is in; nil
// when there is none.
func (s *InstallService) loadRecord(dest string) (*record, string, error) {
	var newest *record
	var at string
	for _, a := range s.stagingAreas(dest) {
		b, err := client.ReadNote(a, s.withinOf(dest))
		if err != nil {
			return nil, a, err
		}
		if b == nil {
			continue
		}
		rec, err := decodeRecord(b)
		if err != nil {
			return nil, a, err
		}
		if newest == nil || rec.Updated.After(newest.Updated) {
			newest, at = rec, a
		}
	}
	return newest, at, nil
}
