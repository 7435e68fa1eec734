package exec

import (
	"context"
	"fmt"
	"os"

	"github.com/rs/zerolog"

	"github.com/snapsync/snapsync/source"
	"github.com/snapsync/snapsync/source/registry"
)

// Config configures a Source.
type Config struct {
	// Command makes the checkpoints. Its Args are required.
	Command Command
	// Root is where the program makes checkpoints (EnvRoot); it is created
	// if missing. Required.
	Root string
	// Engine names the DB engine for manifests. Default "rocksdb".
	Engine string
	// Logger receives structured logs. Default: discard.
	Logger zerolog.Logger
}

// Source is a registry whose checkpoints the program makes: each request
// that the newest one does not reach runs it once. Checkpoints registered
// over the sidecar's RegistryService are accepted too (see Registry).
type Source struct {
	reg *registry.Source
}

var (
	_ source.Source = (*Source)(nil)
	_ source.Prober = (*Source)(nil)
)

// New returns a Source running cfg.Command.
func New(cfg Config) (*Source, error) {
	if len(cfg.Command.Args) == 0 {
		return nil, fmt.Errorf("%w: exec: a command is required", source.ErrBadSource)
	}
	if cfg.Root == "" {
		return nil, fmt.Errorf("%w: exec: a root is required", source.ErrBadSource)
	}
	if err := os.MkdirAll(cfg.Root, 0o750); err != nil {
		return nil, fmt.Errorf("%w: exec: %w", source.ErrBadSource, err)
	}
	reg, err := registry.New(registry.Config{Root: cfg.Root, Maker: cfg.Command, Engine: cfg.Engine, Logger: cfg.Logger})
	if err != nil {
		return nil, err
	}
	return &Source{reg: reg}, nil
}

// Checkpoint returns the newest checkpoint reaching minIndex, running the
// program first if none does.
func (s *Source) Checkpoint(ctx context.Context, dir string, minIndex uint64) (source.Checkpoint, error) {
	return s.reg.Checkpoint(ctx, dir, minIndex)
}

// Newest reports the newest registered checkpoint; the program makes one on
// demand.
func (s *Source) Newest(ctx context.Context) (source.Newest, error) { return s.reg.Newest(ctx) }

// Close releases nothing: the checkpoints stay for the next start.
func (s *Source) Close() error { return s.reg.Close() }

// Registry returns the registry the program's checkpoints go into, for the
// sidecar's RegistryService.
func (s *Source) Registry() *registry.Source { return s.reg }
