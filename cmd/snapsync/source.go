package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/rs/zerolog"
	"github.com/spf13/pflag"

	"github.com/snapsync/snapsync/registry"
	"github.com/snapsync/snapsync/server"
)

// sourceFlags configure the registry: and exec: sources.
type sourceFlags struct {
	checkpointCommand string
	commandTimeout    time.Duration
	engine            string
}

func (f *sourceFlags) add(fl *pflag.FlagSet) {
	fl.StringVar(&f.checkpointCommand, "checkpoint-command", "",
		"registry: source: a program that makes a checkpoint when none registered is new enough")
	fl.DurationVar(&f.commandTimeout, "checkpoint-timeout", 5*time.Minute, "how long one run of the checkpoint command may take")
	fl.StringVar(&f.engine, "engine", "rocksdb", "registry: and exec: sources: the DB engine named in manifests")
}

// defaultWorkDir is --work-dir, or DIR.snapsync beside the source's
// directory. An exec: source has no directory of its own: it needs
// --work-dir.
func defaultWorkDir(workDir, source string) (string, error) {
	if workDir != "" {
		return workDir, nil
	}
	kind, dir, ok := strings.Cut(source, ":")
	switch {
	case source == "":
		return "", fmt.Errorf("--source is required: pebble:DIR, dir:DIR, registry:ROOT or exec:PATH")
	case !ok || dir == "":
		return "", fmt.Errorf("--source %q: want pebble:DIR, dir:DIR, registry:ROOT or exec:PATH", source)
	case kind == "exec":
		return "", fmt.Errorf("--source %s: an exec: source needs --work-dir", source)
	}
	return filepath.Clean(dir) + ".snapsync", nil
}

// openSource opens --source. For registry: and exec: it also returns the
// registry, which the local listener's RegistryService registers into.
func (f *sourceFlags) openSource(spec, workDir string, log zerolog.Logger) (server.Source, *registry.Source, error) {
	kind, arg, _ := strings.Cut(spec, ":")
	cfg := registry.Config{CommandTimeout: f.commandTimeout, Engine: f.engine,
		Logger: log.With().Str("component", "registry").Logger()}
	switch kind {
	case "registry":
		cfg.Root = arg
		if err := os.MkdirAll(cfg.Root, 0o750); err != nil {
			return nil, nil, fmt.Errorf("registry source: %w", err)
		}
		if f.checkpointCommand != "" {
			cfg.Command = []string{f.checkpointCommand}
		}
	case "exec":
		if f.checkpointCommand != "" {
			return nil, nil, fmt.Errorf("--checkpoint-command: an exec: source is already a command")
		}
		cfg.Root, cfg.Command = filepath.Join(workDir, "incoming"), []string{arg}
		if err := os.MkdirAll(cfg.Root, 0o750); err != nil {
			return nil, nil, fmt.Errorf("exec source: %w", err)
		}
	default:
		if f.checkpointCommand != "" {
			return nil, nil, fmt.Errorf("--checkpoint-command needs a registry: source")
		}
		src, err := server.ParseSource(spec, log)
		return src, nil, err
	}
	reg, err := registry.New(cfg)
	if err != nil {
		return nil, nil, err
	}
	return reg, reg, nil
}
