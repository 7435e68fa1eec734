package main

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net"
	"net/http"
	"os"
	"strings"

	"github.com/rs/zerolog"
	"github.com/spf13/pflag"

	"github.com/snapsync/snapsync/auth"
	"github.com/snapsync/snapsync/client"
	"github.com/snapsync/snapsync/internal/connlimit"
	"github.com/snapsync/snapsync/internal/durable"
	"github.com/snapsync/snapsync/metrics"
	"github.com/snapsync/snapsync/server"
	"github.com/snapsync/snapsync/sidecar"
	"github.com/snapsync/snapsync/source/registry"
)

// localFlags configure the node-facing listener.
type localFlags struct {
	localListen      string
	localAddrFile    string
	allowDest        []string
	allowNonLoopback bool
	installStreams   int
	keepOld          bool
	bufferedWrites   bool
	localTokenFile   string
	localAllowUIDs   []uint
	installChunks    chunkSourceFlags
}

func (f *localFlags) add(fl *pflag.FlagSet) {
	fl.StringVar(&f.localListen, "local-listen", "",
		"serve the node's local API (install, registry) here: 127.0.0.1:PORT or unix:/path.sock (default: off)")
	fl.StringVar(&f.localAddrFile, "local-addr-file", "", "write the bound local address here once listening")
	fl.StringSliceVar(&f.allowDest, "allow-dest", nil,
		"directory under which the local API may install databases (repeatable); enables InstallService")
	fl.BoolVar(&f.allowNonLoopback, "local-allow-non-loopback", false,
		"let --local-listen bind a non-loopback address (the local API then reaches the network)")
	fl.IntVar(&f.installStreams, "install-streams", 4, "parallel chunk streams of each local install")
	f.installChunks.add(fl, "install-", "the Prepare's source")
	fl.BoolVar(&f.keepOld, "keep-old", false, "every local Commit keeps the replaced database for Rollback, as with keep_old, until Finalize")
	fl.BoolVar(&f.bufferedWrites, "buffered-writes", false, "local installs write every chunk through the page cache (default: whole chunks bypass it with direct I/O where the filesystem allows)")
	fl.StringVar(&f.localTokenFile, "local-token-file", "",
		"file holding the bearer token a node must present on a TCP --local-listen (required there)")
	fl.UintSliceVar(&f.localAllowUIDs, "local-allow-uid", nil,
		"uid that may call a unix-socket --local-listen besides the sidecar's own (repeatable; the socket is then 0666 and the uid is checked)")
}

// localAPI is the node-facing listener and what it serves; the zero value
// (no --local-listen) serves nothing.
type localAPI struct {
	ln      net.Listener
	handler http.Handler
	install *sidecar.InstallService
	reg     *sidecar.RegistryService
}

// validate checks the local flags before anything is opened.
func (f *localFlags) validate() error {
	unix := strings.HasPrefix(f.localListen, "unix:")
	switch {
	case f.localListen == "" && len(f.allowDest) > 0:
		return errors.New("--allow-dest needs --local-listen: the install API is served only there")
	case f.localListen != "" && !unix && f.localTokenFile == "":
		return fmt.Errorf("--local-listen %s: %w: give --local-token-file", f.localListen, sidecar.ErrNoLocalToken)
	case len(f.localAllowUIDs) > 0 && !unix:
		return errors.New("--local-allow-uid needs a unix-socket --local-listen: uids are known only there")
	}
	return nil
}

// auth returns the local API's caller checks.
func (f *localFlags) auth(log zerolog.Logger) (*sidecar.LocalAuth, error) {
	a := &sidecar.LocalAuth{Log: log}
	if len(f.localAllowUIDs) > 0 {
		a.AllowUIDs = []uint32{uint32(os.Getuid())} //nolint:gosec // uids fit in 32 bits on Linux
		for _, u := range f.localAllowUIDs {
			if u > math.MaxUint32 {
				return nil, fmt.Errorf("--local-allow-uid %d: not a uid", u)
			}
			a.AllowUIDs = append(a.AllowUIDs, uint32(u))
		}
	}
	if f.localTokenFile != "" {
		t, err := auth.LoadToken(f.localTokenFile, auth.WithLogger(log))
		if err != nil {
			return nil, fmt.Errorf("--local-token-file: %w", err)
		}
		a.Token = t
	}
	return a, nil
}

// localChunks is what the node's installs give the peer listener to serve
// by digest: the chunks of installs in progress, and each database committed.
type localChunks struct {
	staged    *server.StagedChunks
	committed func(dest string)
}

// openLocal starts listening for the node when --local-listen is set:
// InstallService when --allow-dest names where it may install,
// RegistryService when the source is a registry.
// installs is the template of its installs' client configuration;
// chunkSources opens the chunk sources of each install (nil: none); chunks
// is what they give the peer listener to serve by digest; m, when not nil,
// counts them.
func (f *localFlags) openLocal(reg *registry.Source, installs client.Config, chunkSources func(context.Context) ([]client.ChunkSource, func()),
	chunks localChunks, m *metrics.Metrics, log zerolog.Logger) (*localAPI, error) {
	api := &localAPI{}
	if err := f.validate(); err != nil || f.localListen == "" {
		return api, err
	}
	guard, err := f.auth(log)
	if err != nil {
		return nil, err
	}
	var regSvc *sidecar.RegistryService
	if reg != nil {
		regSvc = sidecar.NewRegistryService(reg)
		api.reg = regSvc
	}
	if len(f.allowDest) > 0 {
		svc, err := sidecar.NewInstallService(sidecar.InstallConfig{
			AllowedRoots: f.allowDest,
			Client:       installs,
			ChunkSources: chunkSources,
			Metrics:      m,
			Logger:       log,
			Staged:       chunks.staged,
			OnCommitted:  chunks.committed,
		})
		if err != nil {
			return nil, fmt.Errorf("install service: %w", err)
		}
		api.install = svc
	}
	if api.install == nil && regSvc == nil {
		return nil, errors.New("--local-listen serves nothing: give --allow-dest (installs) or a registry: or exec: source")
	}
	var opts []sidecar.ListenOption
	if len(f.localAllowUIDs) > 0 {
		opts = append(opts, sidecar.SocketMode(0o666)) // other uids must be able to connect: the uid check is the gate
	}
	ln, err := sidecar.Listen(f.localListen, f.allowNonLoopback, opts...)
	if err != nil {
		api.Close()
		return nil, err
	}
	api.ln, api.handler = ln, connlimit.Gate(guard.Wrap, isHealthCheck, sidecar.LocalHandler(api.install, regSvc))
	if f.localAddrFile != "" {
		addr := ln.Addr().String()
		if ln.Addr().Network() == "unix" {
			addr = "unix:" + addr
		}
		if err := durable.WriteFile(durable.OS(), f.localAddrFile, []byte(addr), 0o644); err != nil {
			api.Close()
			return nil, err
		}
	}
	log.Info().Str("addr", ln.Addr().String()).Bool("install", api.install != nil).Bool("registry", regSvc != nil).
		Msg("serving the local API")
	return api, nil
}

// closeWatches ends the nodes' WatchCheckpointRequests streams, so shutting
// down does not wait for them.
func (a *localAPI) closeWatches() {
	if a.reg != nil {
		a.reg.Close()
	}
}

// Close stops the install service's background work; the listener is
// closed by the HTTP server that serves it.
func (a *localAPI) Close() {
	a.closeWatches()
	if a.install != nil {
		_ = a.install.Close() // it only stops running Prepares; what is staged stays
	}
}
