package e2e

// TestBenchReport's fan-out scenario (issue 21): follower sidecars
// preparing the same checkpoint at once, each naming the others as chunk
// sources (PrepareRequest.chunk_sources), against one follower alone: the
// leader's CPU and the wall time until every follower has staged it.

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"connectrpc.com/connect"

	snapsyncv1 "github.com/snapsync/snapsync/proto/gen/snapsync/v1"
)

const fanOutScen = "follower sidecars preparing at once, each naming the others as chunk_sources"

// fanOutContender names the row of n followers.
func fanOutContender(n int) string { return fmt.Sprintf("%d follower sidecar(s)", n) }

// fanOut runs rounds of one follower sidecar preparing the newer
// checkpoint alone, then three at once naming each other; each prepared
// staging is aborted (not kept) before the next run.
func (h *harness) fanOut(rounds int) {
	var sides []*followerSidecar
	var nodes, peers []string
	for i := range 3 {
		node := filepath.Join(h.work, fmt.Sprintf("fan-node%d", i))
		if err := os.MkdirAll(node, 0o755); err != nil {
			h.t.Fatal(err)
		}
		s := startFollowerSidecarArgs(h.t, node, nil)
		sides, nodes, peers = append(sides, s), append(nodes, node), append(peers, s.peerURL(h.t))
	}
	defer func() {
		for _, s := range sides {
			_ = s.cmd.Process.Kill() // the harness's own sidecars: their exit is not measured
			_ = s.cmd.Wait()
		}
	}()
	pid := h.srvNew.cmd.Process.Pid
	for range rounds {
		for _, n := range []int{1, 3} {
			ctx := context.Background()
			resetHWM(pid)
			cpu0, sides0 := procCPU(pid), sidesCPU(sides)
			start := time.Now()
			var wg sync.WaitGroup
			errs := make([]error, n)
			for i := range n {
				others := slices.Delete(slices.Clone(peers[:n]), i, i+1)
				wg.Go(func() {
					errs[i] = prepareWith(ctx, sides[i], &snapsyncv1.PrepareRequest{SourceUrl: h.srvNew.URL,
						Dest: filepath.Join(nodes[i], "db"), ChunkSources: others})
				})
			}
			wg.Wait()
			s := sample{wall: time.Since(start), cpu: sidesCPU(sides) - sides0, srvCPU: procCPU(pid) - cpu0, srvRSS: procHWM(pid)}
			for i := range n {
				if errs[i] != nil {
					h.t.Fatalf("follower %d: %v", i, errs[i])
				}
				if _, err := sides[i].local.Abort(ctx, connect.NewRequest(&snapsyncv1.AbortRequest{Dest: filepath.Join(nodes[i], "db")})); err != nil {
					h.t.Fatalf("abort follower %d: %v", i, err)
				}
			}
			h.add(fanOutScen, fanOutContender(n), h.newSize*int64(n), s)
		}
	}
}

// sidesCPU is the CPU time the follower sidecars have used so far, those
// installing and those serving them as chunk sources.
func sidesCPU(sides []*followerSidecar) time.Duration {
	var sum time.Duration
	for _, s := range sides {
		sum += procCPU(s.cmd.Process.Pid)
	}
	return sum
}

// prepareWith runs a Prepare to its end through f's local API.
func prepareWith(ctx context.Context, f *followerSidecar, req *snapsyncv1.PrepareRequest) error {
	st, err := f.local.Prepare(ctx, connect.NewRequest(req))
	if err != nil {
		return err
	}
	defer st.Close()
	var prepared bool
	for st.Receive() {
		prepared = prepared || st.Msg().GetPrepared() != nil
	}
	if err := st.Err(); err != nil {
		return err
	}
	if !prepared {
		return fmt.Errorf("Prepare ended without a prepared snapshot")
	}
	return nil
}
