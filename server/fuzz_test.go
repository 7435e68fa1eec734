package server

import (
	"testing"

	"github.com/snapsync/snapsync/verify"
)

// FuzzDecodeState: a checkpoint's lease state is read back from disk at
// start; any bytes must give an error or a state, never a panic.
func FuzzDecodeState(f *testing.F) {
	id := verify.Sum([]byte("snapshot"))
	f.Add([]byte(`{}`))
	f.Add([]byte(`{"version":1,"dir":"/work/checkpoints/x","owned":true,"leases":[{"id":"ab","expires_unix_nano":1}]}`))
	f.Add([]byte(`not json`))
	f.Fuzz(func(t *testing.T, b []byte) {
		_, _ = decodeState(b, id, "/work/checkpoints") // only that it returns
	})
}
