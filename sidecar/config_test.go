package sidecar

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/snapsync/snapsync/client"
)

// TestConfigValidate: Validate reports every problem at once.
func TestConfigValidate(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	file := filepath.Join(dir, "file")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	testCases := []struct {
		name string
		cfg  InstallConfig
		want []string // each must appear; none: valid
	}{
		{"valid", InstallConfig{AllowedRoots: []string{dir}}, nil},
		{"valid with client knobs", InstallConfig{AllowedRoots: []string{dir}, Client: client.Config{Streams: 8, KeepOld: true}}, nil},
		{"no roots", InstallConfig{}, []string{"AllowedRoots is required"}},
		{"every problem", InstallConfig{
			AllowedRoots: []string{filepath.Join(dir, "missing"), file, ""},
			Client:       client.Config{Dest: "/x/db", Streams: -1, Compression: 99},
		}, []string{"missing", "not a directory", "empty path", "set per destination", "Streams is negative", "unknown Compression"}},
	}
	for _, tc := range testCases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			err := tc.cfg.Validate()
			if len(tc.want) == 0 {
				if err != nil {
					t.Fatalf("Validate: %v", err)
				}
				return
			}
			if !errors.Is(err, ErrBadConfig) {
				t.Fatalf("Validate: %v, want ErrBadConfig", err)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("Validate: %v\ndoes not say %q", err, w)
				}
			}
			if _, err := NewInstallService(tc.cfg); !errors.Is(err, ErrBadConfig) {
				t.Errorf("NewInstallService accepted a bad config: %v", err)
			}
		})
	}
}
