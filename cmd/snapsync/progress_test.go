package main

import (
	"bytes"
	"os"
	"testing"
)

// TestNoBarOffTerminal checks that no progress bar is made for a stderr that
// is not a terminal (a buffer, a pipe) nor with --json, and that a nil bar
// draws nothing.
func TestNoBarOffTerminal(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	defer w.Close()
	var buf bytes.Buffer
	for name, b := range map[string]*bar{"buffer": newBar(&buf, false, "x"), "pipe": newBar(w, false, "x"), "json": newBar(os.Stderr, true, "x")} {
		if b != nil {
			t.Errorf("%s: a bar off a terminal", name)
		}
		if b.install() != nil || b.backup() != nil {
			t.Errorf("%s: progress callbacks without a bar", name)
		}
		b.set(1, 2)
		b.finish()
	}
	if buf.Len() != 0 {
		t.Fatalf("drawn on a buffer: %q", buf.String())
	}
}
