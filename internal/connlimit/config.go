package connlimit

import (
	"errors"
	"fmt"

	"github.com/jonboulle/clockwork"
	"github.com/rs/zerolog"
)

// ErrBadConfig wraps every problem Validate reports.
var ErrBadConfig = errors.New("connlimit: bad configuration")

// DefaultCeiling bounds DefaultMax whatever the open-file limit: an idle
// connection costs the sidecar 10–50 KiB (goroutines, buffers, TLS or
// HTTP/2 state), so 4096 of them stay near 200 MiB, and a sidecar's real
// peers (a few followers with one HTTP/2 and --streams HTTP/1.1 connections
// each, its node, a scraper) need tens.
const DefaultCeiling = 4096

// DefaultMax is the default cap on open connections: half the process's
// soft RLIMIT_NOFILE (Go raises it to the hard limit at start-up), at most
// DefaultCeiling, at least 2. The other half stays for files: Pebble's table
// cache (up to 1000 by default), the checkpoint files chunk streams read, the
// staging files of local installs, the digest cache, pipes and logs.
func DefaultMax() int {
	return defaultMax(openFileLimit())
}

func defaultMax(nofile uint64) int {
	return int(max(min(nofile/2, DefaultCeiling), 2))
}

// DefaultReserve is the default reserve of a cap of n connections: a
// quarter of it, at least 1.
func DefaultReserve(n int) int { return max(n/4, 1) }

// Config configures a Limiter.
type Config struct {
	// Max bounds the connections open at once over every listener of the
	// Limiter. Default: DefaultMax().
	Max int
	// Reserve is how many of the Max slots only authenticated connections
	// may hold: unauthenticated ones hold at most Max−Reserve. Default:
	// DefaultReserve(Max).
	Reserve int
	// Logger receives the audit line of refusals ("audit":"refused"), at
	// most one a second per listener, each counting the refusals it stands
	// for. Default: discard.
	Logger zerolog.Logger
	// Clock paces the audit lines. Default: the real clock.
	Clock clockwork.Clock
}

// EnsureDefaults fills the fields left zero.
func (c *Config) EnsureDefaults() {
	if c.Max == 0 {
		c.Max = DefaultMax()
	}
	if c.Reserve == 0 {
		c.Reserve = DefaultReserve(c.Max)
	}
	if c.Clock == nil {
		c.Clock = clockwork.NewRealClock()
	}
}

// Validate reports every problem with c at once, each wrapping
// ErrBadConfig. Call it after EnsureDefaults.
func (c *Config) Validate() error {
	var errs []error
	if c.Max < 2 {
		errs = append(errs, fmt.Errorf("%w: Max %d must be at least 2", ErrBadConfig, c.Max))
	}
	if c.Reserve < 1 || c.Reserve >= c.Max {
		errs = append(errs, fmt.Errorf("%w: Reserve %d must be at least 1 and below Max %d", ErrBadConfig, c.Reserve, c.Max))
	}
	return errors.Join(errs...)
}
