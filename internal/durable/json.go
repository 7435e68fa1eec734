package durable

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
)

// ErrTrailingData reports bytes after the one JSON value DecodeJSON reads.
var ErrTrailingData = errors.New("trailing data after the JSON value")

// DecodeJSON decodes b into v strictly, as every state file read back from
// disk (untrusted: docs/DESIGN.md invariant 4) must be: exactly one JSON
// value, known fields only, nothing after it but white space. The caller
// bounds b before reading it and checks the fields' values after.
func DecodeJSON(b []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return fmt.Errorf("%w (at byte %d)", ErrTrailingData, dec.InputOffset())
	}
	return nil
}
