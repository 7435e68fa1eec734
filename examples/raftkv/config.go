package raftkv

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"path/filepath"
	"time"

	"github.com/rs/zerolog"
)

// Config describes one node. Start runs EnsureDefaults and Validate.
type Config struct {
	// ID is the node's Raft server ID, unique in the cluster. Required.
	ID string
	// RaftAddr is the TCP address the Raft transport listens on and
	// advertises; port 0 picks a free one (see Node.RaftAddr). Default:
	// "127.0.0.1:0".
	RaftAddr string
	// DataDir holds the node's state: the Pebble DB in DataDir/db, Raft's
	// log and snapshot pointers in DataDir/raft. An install replaces only
	// its entry "db"; the sidecar must allow DataDir's parent as a
	// destination root (--allow-dest). Required.
	DataDir string
	// CheckpointDir is where Snapshot makes Pebble checkpoints, one fresh
	// directory each; it must be the root of the sidecar's registry source
	// (--source registry:DIR). Default: DataDir/checkpoints.
	CheckpointDir string
	// SidecarPeerURL is the peer-facing URL of this node's own sidecar, e.g.
	// "http://127.0.0.1:7600"; snapshot pointers carry it. Required.
	SidecarPeerURL string
	// SidecarLocalURL is the URL of this node's sidecar's local API
	// (InstallService, RegistryService). Required.
	SidecarLocalURL string
	// SidecarToken is the bearer token the node presents to its sidecar's
	// local API on TCP: the content of the file the sidecar was given as
	// --local-token-file. Default: none (a sidecar on TCP refuses the node).
	SidecarToken string
	// Bootstrap makes the node bootstrap a one-node cluster of itself when it
	// has no state yet; other nodes join through the leader's AddVoter.
	// Default: false.
	Bootstrap bool
	// SnapshotThreshold is how many log entries since the last snapshot make
	// Raft take another. Default: 8192 (Raft's).
	SnapshotThreshold uint64
	// SnapshotInterval is how often Raft checks SnapshotThreshold. Default:
	// 120s (Raft's).
	SnapshotInterval time.Duration
	// CheckpointOnRequest makes a Raft snapshot only a pointer to the term
	// and index applied, with no checkpoint: the leader's sidecar asks the
	// node for a fresh one (WatchCheckpointRequests) when a follower needs
	// it, as an Ozone Manager does. Default: false (every snapshot makes and
	// registers a checkpoint). Either way the node answers requests.
	CheckpointOnRequest bool
	// TrailingLogs is how many log entries stay after a snapshot compacts the
	// log; a follower further behind gets the snapshot. Default: 10240 (Raft's).
	TrailingLogs uint64
	// RaftTimeout scales Raft's heartbeat and election timeouts (and the
	// leader lease, at half of it). Default: 1s (Raft's).
	RaftTimeout time.Duration
	// InstallTimeout bounds one snapshot install (Prepare and Commit); Raft
	// retries a failed one. Default: 30m.
	InstallTimeout time.Duration
	// HTTPClient carries the calls to the local sidecar. Default: a client
	// with no overall timeout (Prepare streams for as long as the fetch).
	HTTPClient *http.Client
	// Logger receives the node's log, Raft's and Pebble's. Default: the zero
	// Logger (disabled).
	Logger zerolog.Logger
}

// Defaults of Config.
const (
	DefaultRaftAddr          = "127.0.0.1:0"
	DefaultSnapshotThreshold = 8192
	DefaultSnapshotInterval  = 120 * time.Second
	DefaultTrailingLogs      = 10240
	DefaultRaftTimeout       = time.Second
	DefaultInstallTimeout    = 30 * time.Minute
)

// EnsureDefaults fills in the defaults of unset fields.
func (c *Config) EnsureDefaults() {
	if c.RaftAddr == "" {
		c.RaftAddr = DefaultRaftAddr
	}
	if c.CheckpointDir == "" && c.DataDir != "" {
		c.CheckpointDir = filepath.Join(c.DataDir, "checkpoints")
	}
	if c.SnapshotThreshold == 0 {
		c.SnapshotThreshold = DefaultSnapshotThreshold
	}
	if c.SnapshotInterval == 0 {
		c.SnapshotInterval = DefaultSnapshotInterval
	}
	if c.TrailingLogs == 0 {
		c.TrailingLogs = DefaultTrailingLogs
	}
	if c.RaftTimeout == 0 {
		c.RaftTimeout = DefaultRaftTimeout
	}
	if c.InstallTimeout == 0 {
		c.InstallTimeout = DefaultInstallTimeout
	}
	if c.HTTPClient == nil {
		var rt http.RoundTripper = http.DefaultTransport.(*http.Transport).Clone()
		if c.SidecarToken != "" {
			rt = bearer{base: rt, header: "Bearer " + c.SidecarToken}
		}
		c.HTTPClient = &http.Client{Transport: rt}
	}
}

// Validate reports every problem with c at once, each wrapping ErrConfig.
func (c *Config) Validate() error {
	var errs []error
	bad := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("%w: "+format, append([]any{ErrConfig}, args...)...))
	}
	if c.ID == "" {
		bad("ID is required")
	}
	if _, _, err := net.SplitHostPort(c.RaftAddr); err != nil {
		bad("RaftAddr %q: %v", c.RaftAddr, err)
	}
	if c.DataDir == "" {
		bad("DataDir is required")
	}
	if err := checkURL(c.SidecarPeerURL); err != nil {
		bad("SidecarPeerURL: %v", err)
	}
	if err := checkURL(c.SidecarLocalURL); err != nil {
		bad("SidecarLocalURL: %v", err)
	}
	if c.SnapshotInterval < 0 || c.RaftTimeout < 0 || c.InstallTimeout < 0 {
		bad("durations must not be negative")
	}
	return errors.Join(errs...)
}

// checkURL accepts an absolute http or https URL with a host.
func checkURL(s string) error {
	u, err := url.Parse(s)
	if err != nil {
		return err
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return fmt.Errorf("%q: want an http:// or https:// URL", s)
	}
	if u.Host == "" {
		return fmt.Errorf("%q: no host", s)
	}
	return nil
}

// bearer presents the sidecar's local token on every call.
type bearer struct {
	base   http.RoundTripper
	header string
}

func (b bearer) RoundTrip(req *http.Request) (*http.Response, error) {
	req = req.Clone(req.Context())
	req.Header.Set("Authorization", b.header)
	return b.base.RoundTrip(req)
}
