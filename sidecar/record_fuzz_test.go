package sidecar

import (
	"bytes"
	"testing"
	"time"
)

// FuzzDecodeRecord: a record read back from disk (the staging area's
// sidecar.json) never panics the decoder, and one it accepts encodes and
// decodes again to the same record.
func FuzzDecodeRecord(f *testing.F) {
	good := &record{Version: recordVersion, State: recPrepared, Sources: []string{"https://om0:7600"}, MinIndex: 1200,
		Replace: []string{"om.db", "db.snapshots"}, SnapshotID: string(bytes.Repeat([]byte("ab"), 32)), Term: 4, Index: 1200,
		Started: time.Unix(1, 0).UTC(), Updated: time.Unix(2, 0).UTC()}
	if b, err := good.encode(); err == nil {
		f.Add(b)
	}
	f.Add([]byte(`{"version":1,"state":"FAILED","sources":["http://a"],"min_index":1,"error":"x","reason":"NO_SPACE","code":"resource_exhausted"}`))
	f.Add([]byte(`{"version":2}`))
	f.Add([]byte(`{} {}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := decodeRecord(b)
		if err != nil {
			return
		}
		again, err := r.encode()
		if err != nil {
			t.Fatalf("an accepted record does not encode: %v", err)
		}
		r2, err := decodeRecord(again)
		if err != nil {
			t.Fatalf("an accepted record, encoded again, is refused: %v", err)
		}
		b1, _ := r.encode()
		b2, _ := r2.encode()
		if !bytes.Equal(b1, b2) {
			t.Fatalf("round trip changed the record:\n%s\n%s", b1, b2)
		}
	})
}
