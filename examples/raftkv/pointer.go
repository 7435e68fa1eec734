package raftkv

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
)

// MaxPointerSize bounds an encoded Pointer; Raft snapshots of this store are
// never larger.
const MaxPointerSize = 64 << 10

// Pointer is the whole content of a Raft snapshot of this store: where the
// checkpoint can be fetched and which Raft term and index it reflects. A
// follower asks by index (it needs at least Index), so SnapshotID is only a
// hint for logs.
type Pointer struct {
	// SidecarURL is the peer-facing URL of the sidecar that registered the
	// checkpoint, e.g. "http://10.0.0.1:7600".
	SidecarURL string `json:"sidecar_url"`
	// SnapshotID is the hex snapshot ID when known; empty otherwise.
	SnapshotID string `json:"snapshot_id,omitempty"`
	// Term and Index are the Raft term and index of the last command the
	// checkpoint reflects.
	Term  uint64 `json:"term"`
	Index uint64 `json:"index"`
}

// Encode returns p as one line of JSON.
func (p Pointer) Encode() ([]byte, error) {
	if err := p.check(); err != nil {
		return nil, err
	}
	b, err := json.Marshal(p)
	if err != nil {
		return nil, fmt.Errorf("encode pointer: %w", err)
	}
	return append(b, '\n'), nil
}

// DecodePointer reads a Pointer from r, which is untrusted: it reads at most
// MaxPointerSize bytes, refuses unknown fields and trailing data, and checks
// the URL.
func DecodePointer(r io.Reader) (Pointer, error) {
	b, err := io.ReadAll(io.LimitReader(r, MaxPointerSize+1))
	if err != nil {
		return Pointer{}, fmt.Errorf("read pointer: %w", err)
	}
	if len(b) > MaxPointerSize {
		return Pointer{}, fmt.Errorf("%w: over %d bytes", ErrPointer, MaxPointerSize)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var p Pointer
	if err := dec.Decode(&p); err != nil {
		return Pointer{}, fmt.Errorf("%w: %v", ErrPointer, err)
	}
	if err := dec.Decode(&struct{}{}); err != io.EOF {
		return Pointer{}, fmt.Errorf("%w: trailing data", ErrPointer)
	}
	if err := p.check(); err != nil {
		return Pointer{}, err
	}
	return p, nil
}

// check validates the URL and the optional snapshot ID.
func (p Pointer) check() error {
	if err := checkURL(p.SidecarURL); err != nil {
		return fmt.Errorf("%w: sidecar_url: %v", ErrPointer, err)
	}
	if p.SnapshotID != "" {
		if id, err := hex.DecodeString(p.SnapshotID); err != nil || len(id) != 32 {
			return fmt.Errorf("%w: snapshot_id %q: want 64 hex digits", ErrPointer, p.SnapshotID)
		}
	}
	return nil
}
