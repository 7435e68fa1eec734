package main

import (
	"context"
	"fmt"
	"net"
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/rs/zerolog"
	"github.com/spf13/pflag"

	"github.com/snapsync/snapsync/internal/durable"
	"github.com/snapsync/snapsync/metrics"
	"github.com/snapsync/snapsync/server"
	"github.com/snapsync/snapsync/sidecar"
)

// metricsFlags configure the Prometheus endpoint of serve.
type metricsFlags struct {
	metricsListen      string
	metricsAddrFile    string
	metricsNonLoopback bool
}

func (f *metricsFlags) add(fl *pflag.FlagSet) {
	fl.StringVar(&f.metricsListen, "metrics-listen", "",
		"serve Prometheus metrics at /metrics here: 127.0.0.1:PORT (default: off)")
	fl.StringVar(&f.metricsAddrFile, "metrics-addr-file", "", "write the bound metrics address here once listening")
	fl.BoolVar(&f.metricsNonLoopback, "metrics-allow-non-loopback", false,
		"let --metrics-listen bind a non-loopback address (metrics hold no secrets, but name paths and peers)")
}

// metricsEndpoint is the registry and listener of --metrics-listen; the
// zero value (no --metrics-listen) serves nothing and its Metrics is nil.
type metricsEndpoint struct {
	m   *metrics.Metrics
	reg *prometheus.Registry
	ln  net.Listener
}

// open creates the registry and listens, when --metrics-listen is set.
func (f *metricsFlags) open(log zerolog.Logger) (*metricsEndpoint, error) {
	if f.metricsListen == "" {
		return &metricsEndpoint{}, nil
	}
	reg := prometheus.NewRegistry()
	m, err := metrics.New(reg, true)
	if err != nil {
		return nil, fmt.Errorf("metrics: %w", err)
	}
	ln, err := sidecar.Listen(f.metricsListen, f.metricsNonLoopback)
	if err != nil {
		return nil, fmt.Errorf("--metrics-listen: %w", err)
	}
	if f.metricsAddrFile != "" {
		if err := durable.WriteFile(durable.OS(), f.metricsAddrFile, []byte(ln.Addr().String()), 0o644); err != nil {
			return nil, fmt.Errorf("--metrics-addr-file: %w", err)
		}
	}
	log.Info().Str("addr", ln.Addr().String()).Msg("serving metrics")
	return &metricsEndpoint{m: m, reg: reg, ln: ln}, nil
}

// serve serves /metrics until ctx is done.
func (e *metricsEndpoint) serve(ctx context.Context, opts ...server.ServeOption) error {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(e.reg, promhttp.HandlerOpts{Registry: e.reg}))
	return server.Serve(ctx, e.ln, mux, opts...)
}

// close closes the listener if serve never ran.
func (e *metricsEndpoint) close() {
	if e.ln != nil {
		_ = e.ln.Close() // serve closes it too; a second close only fails
	}
}
