// Package golden compares what a test produced with a file under testdata,
// the golden file, and rewrites that file when the test runs with -update
// (pebble's testdata habit). Only tests import it: it defines the flag.
package golden

import (
	"bytes"
	"flag"
	"os"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata")

// Check fails tb unless got equals the content of the file at path; with
// -update it writes got to path instead.
func Check(tb testing.TB, path string, got []byte) {
	tb.Helper()
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			tb.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		tb.Fatalf("%v (run the test with -update to write it)", err)
	}
	if !bytes.Equal(got, want) {
		tb.Errorf("%s differs (run the test with -update if the change is intended):\n--- got\n%s--- want\n%s", path, got, want)
	}
}
