package server

import (
	"net"
	"sync"
)

// maxPeers bounds the peers a peerMemory remembers; past it, one is forgotten at
// random (map order) for each new one.
const maxPeers = 1024

// peerMemory remembers, per peer host, what the chooser of its last stream had
// learnt of the link (auto mode: send and compression cost, ratio, verdict),
// so that a peer's next stream starts from it instead of from "compress
// everything" until it has measured again. A client that fetches in many
// short streams (a batch at a time, between chunk sources) would otherwise
// make the server compress every compressible chunk of every stream: three
// follower sidecars installing at once spent half of the leader's CPU in
// zstd before this (docs/DESIGN.md, chunk sources). Like TCP's
// per-destination metrics cache, it only seeds estimates that each stream
// keeps measuring. A nil *peerMemory remembers nothing.
type peerMemory struct {
	mu     sync.Mutex
	byHost map[string]linkEstimate
}

func newPeerMemory() *peerMemory { return &peerMemory{byHost: make(map[string]linkEstimate)} }

// hostOf is the host of a peer address ("10.0.0.7:41234" → "10.0.0.7"),
// the address itself when it has no port.
func hostOf(addr string) string {
	if h, _, err := net.SplitHostPort(addr); err == nil {
		return h
	}
	return addr
}

// seed gives c what the last stream from peer learnt, when c is in auto
// mode and there is something to give.
func (l *peerMemory) seed(peer string, c *chooser) {
	if l == nil || peer == "" || c.mode != CompressionAuto {
		return
	}
	l.mu.Lock()
	st, ok := l.byHost[hostOf(peer)]
	l.mu.Unlock()
	if !ok {
		return
	}
	c.linkEstimate = st
}

// keep remembers what c learnt of peer's link, once its stream ends.
func (l *peerMemory) keep(peer string, c *chooser) {
	if l == nil || peer == "" || c.mode != CompressionAuto || c.sentSamples == 0 {
		return
	}
	host := hostOf(peer)
	l.mu.Lock()
	defer l.mu.Unlock()
	if _, ok := l.byHost[host]; !ok && len(l.byHost) >= maxPeers {
		for k := range l.byHost {
			delete(l.byHost, k)
			break
		}
	}
	l.byHost[host] = c.linkEstimate
}
