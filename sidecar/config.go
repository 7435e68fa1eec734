package sidecar

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/rs/zerolog"

	"github.com/snapsync/snapsync/client"
	"github.com/snapsync/snapsync/metrics"
	"github.com/snapsync/snapsync/server"
)

// InstallConfig configures an InstallService.
type InstallConfig struct {
	// AllowedRoots are the directories a Prepare's dest must resolve strictly
	// below (symlinks of its parent resolved); each must exist. Required.
	AllowedRoots []string
	// Client is the template of every install's client.Config: Streams,
	// Compression, retries, LeaseTTL, KeepOld, HTTPClient, Hook... Dest,
	// StagingDir and Progress must be unset (the service sets them per
	// destination, the staging area beside it); Logger is replaced by
	// Logger. Default: the client package's defaults, with one HTTPClient
	// shared by every install.
	Client client.Config
	// ChunkSources, when set, opens the chunk sources every Prepare takes
	// chunks from before the request's own (client.Config.ChunkSources):
	// called at the start of each Prepare, its close at the end, so a
	// repository's newest backups count and a source that is down costs a
	// warning, not the install. Default: none.
	ChunkSources func(ctx context.Context) (sources []client.ChunkSource, close func())
	// Metrics counts Prepares, Commits and Aborts by outcome and, through
	// the installs' client.Config (when Client.Metrics is unset), the bytes
	// they receive and reuse; NewInstallService registers on it a gauge of
	// the free space under each allowed root. Default: nil (no metrics).
	Metrics *metrics.Metrics
	// Logger receives the service's log and every install's. Default: the
	// zero Logger (disabled).
	Logger zerolog.Logger
	// Staged, when set, is where the sidecar's peer listener finds the
	// chunks of installs in progress, to serve them by digest
	// (server.Config.Staged); it is reset when an install commits or
	// aborts, its staging area gone. Default: nil (none).
	Staged *server.StagedChunks
	// OnCommitted, when set, is called with the destination of every
	// Commit that swapped an install in, after the swap: the sidecar then
	// serves that database by digest (server.Server.ServeInstalled).
	// Default: nil.
	OnCommitted func(dest string)
}

// Validate reports every problem of the configuration at once, each wrapped
// in ErrBadConfig.
func (c *InstallConfig) Validate() error {
	var errs []error
	bad := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("%w: "+format, append([]any{ErrBadConfig}, args...)...))
	}
	if len(c.AllowedRoots) == 0 {
		bad("AllowedRoots is required")
	}
	for _, r := range c.AllowedRoots {
		if _, err := resolveRoot(r); err != nil {
			bad("allowed root %q: %v", r, err)
		}
	}
	if c.Client.Dest != "" || c.Client.StagingDir != "" || c.Client.Progress != nil {
		bad("Client.Dest, Client.StagingDir and Client.Progress are set per destination and must be unset")
	}
	probe := c.Client
	probe.Dest, probe.StagingDir, probe.Progress = "/probe/db", "", nil
	probe.HTTPClient = nil // EnsureDefaults would make one only to check it
	if err := probe.Validate(); err != nil {
		bad("Client: %v", err)
	}
	return errors.Join(errs...)
}

// resolveRoot returns root absolute with its symlinks resolved, and checks
// that it is a directory.
func resolveRoot(root string) (string, error) {
	if root == "" {
		return "", errors.New("empty path")
	}
	abs, err := filepath.Abs(root)
	if err != nil {
		return "", err
	}
	if abs, err = filepath.EvalSymlinks(abs); err != nil {
		return "", err
	}
	fi, err := os.Stat(abs)
	if err != nil {
		return "", err
	}
	if !fi.IsDir() {
		return "", fmt.Errorf("%s is not a directory", abs)
	}
	return abs, nil
}
