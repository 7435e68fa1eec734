package main

import (
	"os"
	"path/filepath"
	"sync/atomic"

	"github.com/snapsync/snapsync/verify"
)

// halfwayHook is a client.Config.Hook that fails the install once about half
// the snapshot's bytes are written. It counts chunks, which it finds in the
// manifest the client keeps in its staging area (see package client's
// documentation).
type halfwayHook struct {
	stagingDir string
	err        error
	half       atomic.Int64 // chunks to write before stopping; 0 until the manifest is read
	written    atomic.Int64
}

func (h *halfwayHook) hook(point string) error {
	switch point {
	case "manifest-fetched":
		b, err := os.ReadFile(filepath.Join(h.stagingDir, "manifest.bin"))
		if err != nil {
			return err
		}
		m, err := verify.Decode(b)
		if err != nil {
			return err
		}
		h.half.Store(max(halfChunks(m), 1))
	case "chunk-written":
		if n := h.written.Add(1); n >= h.half.Load() && h.half.Load() > 0 {
			return h.err
		}
	}
	return nil
}

// halfChunks is how many chunks of m are written when about half its bytes
// are, whichever order they come in: the short chunks (small files, tails),
// then half the full-size ones.
func halfChunks(m *verify.Manifest) int64 {
	var short, full int64
	for _, f := range m.Files {
		if f.LinkTo >= 0 {
			continue // a hard link: its content is staged once
		}
		for _, c := range f.Chunks {
			if c.Length == m.ChunkSize {
				full++
			} else {
				short++
			}
		}
	}
	return short + full/2
}
