package server

import (
	"context"
	"os"
	"testing"

	"connectrpc.com/connect"
	pebbledb "github.com/cockroachdb/pebble/v2"

	"github.com/snapsync/snapsync/internal/testlog"
	snapsyncv1 "github.com/snapsync/snapsync/proto/gen/snapsync/v1"
	"github.com/snapsync/snapsync/source"
	dirsource "github.com/snapsync/snapsync/source/dir"
	pebblesource "github.com/snapsync/snapsync/source/pebble"
	"github.com/snapsync/snapsync/verify"
)

// TestProbe: Probe answers from the source and the catalog without making a
// checkpoint or granting a lease, and a pebble source says it makes one on
// demand.
func TestProbe(t *testing.T) {
	t.Parallel()
	testCases := []struct {
		name     string
		source   func(t *testing.T) source.Source
		index    uint64
		onDemand bool
	}{
		{"pebble", func(t *testing.T) source.Source {
			meta := func(context.Context, *pebbledb.DB) (verify.Meta, error) {
				return verify.Meta{Term: 2, Index: 77, Engine: "pebble"}, nil
			}
			src, err := pebblesource.Open(t.TempDir(), testlog.Logger(t), pebblesource.WithMeta(meta))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { src.Close() })
			return src
		}, 77, true},
		{"dir", func(t *testing.T) source.Source {
			dir := t.TempDir()
			if err := os.WriteFile(dir+"/CURRENT", []byte("x"), 0o600); err != nil {
				t.Fatal(err)
			}
			src, err := dirsource.New(dir, verify.Meta{Term: 3, Index: 42})
			if err != nil {
				t.Fatal(err)
			}
			return src
		}, 42, false},
	}
	for _, tc := range testCases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ts := startServer(t, Config{Source: tc.source(t)})
			for range 2 {
				res, err := ts.client.Probe(context.Background(), connect.NewRequest(&snapsyncv1.ProbeRequest{Client: t.Name()}))
				if err != nil {
					t.Fatalf("Probe: %v", err)
				}
				if res.Msg.GetNewestIndex() != tc.index || res.Msg.GetCanMakeCheckpoint() != tc.onDemand {
					t.Fatalf("Probe = %v, want index %d, can_make_checkpoint %v", res.Msg, tc.index, tc.onDemand)
				}
			}
			if st := ts.srv.Stats(); st.Checkpoints != 0 || st.Leases != 0 {
				t.Fatalf("after Probe the server holds %d checkpoints, %d leases; want none", st.Checkpoints, st.Leases)
			}
			entries, err := os.ReadDir(ts.srv.cpDir)
			if err != nil || len(entries) != 0 {
				t.Fatalf("checkpoints dir after Probe: %v, %v", entries, err)
			}
		})
	}
}

// TestProbeCatalog: the catalog's newest held checkpoint is found, so a
// source that cannot tell (no Prober, or index 0) still probes right.
func TestProbeCatalog(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	if err := os.WriteFile(dir+"/CURRENT", []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	src, err := dirsource.New(dir, verify.Meta{Term: 4, Index: 9})
	if err != nil {
		t.Fatal(err)
	}
	ts := startServer(t, Config{Source: src})
	ts.create(t, 0, 60_000)
	if got := ts.srv.catalogNewest(t); got != 9 {
		t.Fatalf("catalog newest = %d, want 9", got)
	}
}

func (s *Server) catalogNewest(tb testing.TB) uint64 {
	tb.Helper()
	_, index, _, ok := s.catalog.newest(s.cfg.Clock.Now())
	if !ok {
		tb.Fatal("no held checkpoint")
	}
	return index
}
