package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/rs/zerolog"
	"github.com/spf13/pflag"

	"github.com/snapsync/snapsync/source"
	dirsource "github.com/snapsync/snapsync/source/dir"
	execsource "github.com/snapsync/snapsync/source/exec"
	pebblesource "github.com/snapsync/snapsync/source/pebble"
	"github.com/snapsync/snapsync/source/registry"
	"github.com/snapsync/snapsync/verify"
)

// sourceKinds is what --source accepts, for messages.
const sourceKinds = "pebble:DIR, dir:DIR, registry:ROOT, exec:PATH or repo:REPO"

// sourceFlags configure the registry: and exec: sources.
type sourceFlags struct {
	checkpointCommand string
	commandTimeout    time.Duration
	engine            string
}

func (f *sourceFlags) add(fl *pflag.FlagSet) {
	fl.StringVar(&f.checkpointCommand, "checkpoint-command", "",
		"registry: source: a program that makes a checkpoint when none registered is new enough")
	fl.DurationVar(&f.commandTimeout, "checkpoint-timeout", execsource.DefaultTimeout,
		"how long one run of the checkpoint command, or a node asked for a checkpoint over WatchCheckpointRequests, may take")
	fl.StringVar(&f.engine, "engine", "rocksdb", "registry: and exec: sources: the DB engine named in manifests")
}

// defaultWorkDir is --work-dir, or DIR.snapsync beside the source's
// directory. An exec: source has no directory of its own: it needs
// --work-dir.
func defaultWorkDir(workDir, spec string) (string, error) {
	if workDir != "" {
		return workDir, nil
	}
	kind, dir, ok := strings.Cut(spec, ":")
	switch {
	case spec == "":
		return "", fmt.Errorf("--source is required: %s", sourceKinds)
	case !ok || dir == "":
		return "", fmt.Errorf("--source %q: want %s", spec, sourceKinds)
	case kind == "exec":
		return "", fmt.Errorf("--source %s: an exec: source needs --work-dir", spec)
	}
	return filepath.Clean(dir) + ".snapsync", nil
}

// openSource opens the source spec names. For registry: and exec: it also
// returns the registry, which the local listener's RegistryService registers
// into.
func (f *sourceFlags) openSource(spec, workDir string, log zerolog.Logger) (source.Source, *registry.Source, error) {
	kind, arg, ok := strings.Cut(spec, ":")
	if !ok || arg == "" {
		return nil, nil, fmt.Errorf("%w: --source %q: want %s", source.ErrBadSource, spec, sourceKinds)
	}
	if f.checkpointCommand != "" && kind != "registry" {
		return nil, nil, fmt.Errorf("--checkpoint-command needs a registry: source, not %s:", kind)
	}
	switch kind {
	case "pebble":
		src, err := pebblesource.Open(arg, log, pebblesource.MustExist())
		return src, nil, err
	case "dir":
		src, err := dirsource.New(arg, verify.Meta{})
		return src, nil, err
	case "registry":
		return f.openRegistry(arg, log)
	case "exec":
		src, err := execsource.New(execsource.Config{
			Command: f.command(arg), Root: filepath.Join(workDir, "incoming"), Engine: f.engine,
			Logger: log.With().Str("component", "exec").Logger(),
		})
		if err != nil {
			return nil, nil, err
		}
		return src, src.Registry(), nil
	}
	return nil, nil, fmt.Errorf("%w: --source %q: unknown kind %q, want %s", source.ErrBadSource, spec, kind, sourceKinds)
}

// openRegistry opens a registry: source rooted at root, with
// --checkpoint-command as its maker if set.
func (f *sourceFlags) openRegistry(root string, log zerolog.Logger) (source.Source, *registry.Source, error) {
	if err := os.MkdirAll(root, 0o750); err != nil {
		return nil, nil, fmt.Errorf("registry source: %w", err)
	}
	cfg := registry.Config{Root: root, Engine: f.engine, RequestTimeout: f.commandTimeout,
		Logger: log.With().Str("component", "registry").Logger()}
	if f.checkpointCommand != "" {
		cfg.Maker = f.command(f.checkpointCommand)
	}
	reg, err := registry.New(cfg)
	if err != nil {
		return nil, nil, err
	}
	return reg, reg, nil
}

func (f *sourceFlags) command(path string) execsource.Command {
	return execsource.Command{Args: []string{path}, Timeout: f.commandTimeout}
}
