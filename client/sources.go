package client

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"connectrpc.com/connect"
	"github.com/jonboulle/clockwork"

	snapsyncv1 "github.com/snapsync/snapsync/proto/gen/snapsync/v1"
	"github.com/snapsync/snapsync/proto/gen/snapsync/v1/snapsyncv1connect"
)

// maxProbeWait bounds a Probe, below Config.StallTimeout when that is longer.
const maxProbeWait = 10 * time.Second

// Failover is a source an install gave up on before another one served it.
type Failover struct {
	Source string
	// BytesFetched is what that source's chunks took on the wire; the
	// verified ones among them stayed staged for the next source.
	BytesFetched int64
	Err          error
}

// peer is a source as its Probe found it.
type peer struct {
	url      string
	newest   uint64
	onDemand bool
	known    bool  // it answered Probe
	err      error // it could not be reached
}

// probePeers asks every source at once, each bounded by the stall limit
// (at most maxProbeWait), for the newest index it can serve. A source that
// does not know Probe (an older server) is kept, as not known.
func probePeers(ctx context.Context, sources []string, cfg *Config) []peer {
	peers := make([]peer, len(sources))
	hc := withStall(cfg.HTTPClient, cfg.StallTimeout, clockwork.NewRealClock())
	var wg sync.WaitGroup
	for i, u := range sources {
		wg.Go(func() {
			peers[i] = probe(ctx, newRPC(hc, u), u, min(cfg.StallTimeout, maxProbeWait))
		})
	}
	wg.Wait()
	for _, p := range peers {
		cfg.Logger.Info().Str("source", p.url).Bool("known", p.known).Uint64("newest_index", p.newest).
			Bool("can_make_checkpoint", p.onDemand).AnErr("error", p.err).Msg("probed")
	}
	return peers
}

func probe(ctx context.Context, rpc snapsyncv1connect.SnapshotServiceClient, u string, wait time.Duration) peer {
	ctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	resp, err := rpc.Probe(ctx, connect.NewRequest(&snapsyncv1.ProbeRequest{Client: "snapsync client"}))
	switch {
	case connect.CodeOf(err) == connect.CodeUnimplemented:
		return peer{url: u}
	case err != nil:
		return peer{url: u, err: err}
	}
	return peer{url: u, known: true, newest: resp.Msg.GetNewestIndex(), onDemand: resp.Msg.GetCanMakeCheckpoint()}
}

// rankPeers orders the sources worth trying: first those whose newest index
// reaches minIndex, highest first (less log to replay, and more room before
// the leader purges past it), ties in list order (the node knows which peer
// is the leader and lists the ones to spare last); then, in list order,
// those that could not tell and those that make a checkpoint on demand
// (their index is a lower bound: a command asked for minIndex may reach it).
// A source that is down, or behind minIndex with nothing to make, is left
// out; the error says why when none is left.
func rankPeers(peers []peer, minIndex uint64) ([]string, error) {
	var reach, unknown []peer
	var behind, down []string
	for _, p := range peers {
		switch {
		case p.err != nil:
			down = append(down, fmt.Sprintf("%s: %v", p.url, p.err))
		case p.known && p.newest >= minIndex:
			reach = append(reach, p)
		case !p.known || p.onDemand:
			unknown = append(unknown, p)
		default:
			behind = append(behind, fmt.Sprintf("%s at index %d", p.url, p.newest))
		}
	}
	slices.SortStableFunc(reach, func(a, b peer) int { return -cmpUint(a.newest, b.newest) })
	var urls []string
	for _, p := range append(reach, unknown...) {
		urls = append(urls, p.url)
	}
	switch {
	case len(urls) > 0:
		return urls, nil
	case len(behind) > 0:
		return nil, fmt.Errorf("%w: min index %d: %v; unreachable: %v", ErrMinIndex, minIndex, behind, down)
	}
	return nil, fmt.Errorf("probe: %w: %v", ErrUnavailable, down)
}

func cmpUint(a, b uint64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// switchable reports whether a failure is the source's, so that another
// source may do better: unreachable, stalled, behind, breaking the protocol
// (bad chunks included), or refused in the TLS handshake (one peer's
// certificate may have expired while the others' are good). Local failures
// are not.
func switchable(err error) bool {
	for _, e := range []error{ErrUnavailable, ErrStalled, ErrMinIndex, ErrServer, ErrVerify, ErrTLS} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}

// prepareAny stages a snapshot reaching minIndex from one of sources: with
// several, it probes them, tries the best first and goes on to the next
// when one fails for a reason of its own. A switch keeps what is staged:
// the next source resumes the same snapshot, or plans a different one by
// content against the earlier staging (prev/), so it fetches again at most
// what was in flight.
func prepareAny(ctx context.Context, sources []string, minIndex uint64, cfg *Config, l layout) (Prepared, error) {
	if len(sources) == 0 {
		return Prepared{}, fmt.Errorf("%w: no source URL", ErrConfig)
	}
	for _, u := range sources {
		if err := checkSource(u); err != nil {
			return Prepared{}, err
		}
	}
	order := sources
	if len(sources) > 1 && !alreadyStaged(l, minIndex) {
		peers := probePeers(ctx, sources, cfg)
		if ctx.Err() != nil {
			return Prepared{}, context.Cause(ctx)
		}
		var err error
		if order, err = rankPeers(peers, minIndex); err != nil {
			return Prepared{}, err
		}
	}
	var failovers []Failover
	for i := 0; ; i++ {
		p, err := prepareLocked(ctx, order[i], minIndex, cfg, l)
		if err == nil {
			p.Source, p.Failovers = order[i], failovers
			return p, nil
		}
		if ctx.Err() != nil || !switchable(err) || i == len(order)-1 {
			return Prepared{}, err
		}
		cfg.Logger.Warn().Err(err).Str("source", order[i]).Str("next", order[i+1]).
			Int64("fetched", p.BytesFetched).Msg("source failed, switching")
		failovers = append(failovers, Failover{Source: order[i], BytesFetched: p.BytesFetched, Err: err})
	}
}

// alreadyStaged reports whether a staged snapshot reaches minIndex, so that
// Prepare needs no source at all.
func alreadyStaged(l layout, minIndex uint64) bool {
	st, err := readState(l)
	return err == nil && st != nil && st.Phase == phaseStaged && st.Index >= minIndex
}
