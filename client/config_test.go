package client

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	snapsyncv1 "github.com/snapsync/snapsync/proto/gen/snapsync/v1"
)

func TestConfigDefaults(t *testing.T) {
	t.Parallel()
	dest := filepath.Join(t.TempDir(), "db")
	cfg := Config{Dest: dest}
	cfg.EnsureDefaults()
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	switch {
	case cfg.StagingDir != filepath.Join(filepath.Dir(dest), ".snapsync-db"):
		t.Fatalf("StagingDir %q", cfg.StagingDir)
	case cfg.Streams != DefaultStreams || cfg.ChunkRetries != DefaultChunkRetries || cfg.MaxAttempts != DefaultMaxAttempts ||
		cfg.RetryWait != DefaultRetryWait || cfg.ChunksPerRequest != DefaultChunksPerRequest:
		t.Fatalf("defaults not applied: %+v", cfg)
	case cfg.HTTPClient == nil || cfg.Immutable == nil:
		t.Fatal("no HTTPClient or Immutable")
	case !cfg.Immutable("a/000001.sst") || !cfg.Immutable("x.blob") || cfg.Immutable("MANIFEST-000001") || cfg.Immutable("sst"):
		t.Fatal("DefaultImmutable accepts the wrong files")
	}
}

// TestConfigValidate: every problem is reported at once, each an ErrConfig.
func TestConfigValidate(t *testing.T) {
	t.Parallel()
	cfg := Config{
		Dest: "relative/db", StagingDir: "/elsewhere/.staging", Streams: 1000, ChunkRetries: -1,
		MaxAttempts: -2, ChunksPerRequest: -3, RetryWait: -time.Second, LeaseTTL: time.Microsecond,
		Compression: snapsyncv1.Compression(9),
	}
	err := cfg.Validate()
	if !errors.Is(err, ErrConfig) {
		t.Fatalf("Validate: %v, want ErrConfig", err)
	}
	for _, want := range []string{"Dest", "StagingDir", "Streams 1000", "ChunkRetries", "MaxAttempts", "ChunksPerRequest",
		"RetryWait", "LeaseTTL", "Compression 9"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("Validate does not report %s: %v", want, err)
		}
	}
	testCases := []struct {
		name string
		cfg  Config
	}{
		{"no dest", Config{}},
		{"root dest", Config{Dest: "/"}},
		{"staging is dest", Config{Dest: "/a/db", StagingDir: "/a/db"}},
		{"staging elsewhere", Config{Dest: "/a/db", StagingDir: "/b/.s"}},
		{"staging nested", Config{Dest: "/a/db", StagingDir: "/a/x/.s"}},
	}
	for _, tc := range testCases {
		if err := tc.cfg.Validate(); !errors.Is(err, ErrConfig) {
			t.Errorf("%s: %v, want ErrConfig", tc.name, err)
		}
	}
}
