package client

import (
	"context"
	"errors"
	"sync"
	"testing"

	"github.com/snapsync/snapsync/internal/testlog"
	"github.com/snapsync/snapsync/server"
	dirsource "github.com/snapsync/snapsync/source/dir"
	"github.com/snapsync/snapsync/verify"
)

// TestSessionFetch opens a session, fetches a chosen set of chunks into a
// sink that checks each against the manifest, and checks that refs naming
// no chunk, a hard link or a chunk twice are refused before any call.
func TestSessionFetch(t *testing.T) {
	t.Parallel()
	src, err := dirsource.New(linkedTree(t), verify.Meta{Index: 9})
	if err != nil {
		t.Fatal(err)
	}
	ts := startServer(t, server.Config{Source: src}, "")
	s, err := Open(t.Context(), ts.url, 9, Config{Logger: testlog.Logger(t)})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	m := s.Manifest()
	if id, err := m.ID(); err != nil || id != s.ID() || m.Meta.Index != 9 {
		t.Fatalf("manifest %v (%v), index %d; session %v", id, err, m.Meta.Index, s.ID())
	}
	var refs []ChunkRef
	link := -1
	for fi, f := range m.Files {
		if f.LinkTo >= 0 {
			link = fi
			continue
		}
		for j := range f.Chunks {
			refs = append(refs, ChunkRef{File: fi, Chunk: j})
		}
	}
	var mu sync.Mutex
	got := make(map[ChunkRef]bool)
	err = s.Fetch(t.Context(), refs, func(_ context.Context, ref ChunkRef, c verify.Chunk, data []byte) error {
		if c != m.Files[ref.File].Chunks[ref.Chunk] || verify.Sum(data) != c.Digest {
			return errors.New("sink got a chunk that is not the manifest's")
		}
		mu.Lock()
		defer mu.Unlock()
		got[ref] = true
		return nil
	})
	if err != nil || len(got) != len(refs) || s.BytesFetched() == 0 {
		t.Fatalf("Fetch: %v; %d of %d chunks, %d bytes fetched", err, len(got), len(refs), s.BytesFetched())
	}
	for _, bad := range [][]ChunkRef{{{File: len(m.Files)}}, {{File: link}}, {refs[0], refs[0]}, {{File: refs[0].File, Chunk: -1}}} {
		if err := s.Fetch(t.Context(), bad, nil); !errors.Is(err, ErrConfig) {
			t.Errorf("Fetch(%v): %v, want ErrConfig", bad, err)
		}
	}
}

// TestSessionMinIndex checks that Open fails as an install does when no
// checkpoint reaches the index.
func TestSessionMinIndex(t *testing.T) {
	t.Parallel()
	src, err := dirsource.New(linkedTree(t), verify.Meta{Index: 9})
	if err != nil {
		t.Fatal(err)
	}
	ts := startServer(t, server.Config{Source: src}, "")
	if _, err := Open(t.Context(), ts.url, 10, Config{Logger: testlog.Logger(t)}); !errors.Is(err, ErrMinIndex) {
		t.Fatalf("Open above the source's index: %v, want ErrMinIndex", err)
	}
}
