package connlimit

import (
	"time"

	"github.com/jonboulle/clockwork"
)

// auditInterval is the least time between two audit lines of refusals: a
// flood refuses thousands of connections a second, and the log must not
// become the next thing it fills.
const auditInterval = time.Second

// pendingLine is what the next audit line of one listener reports.
type pendingLine struct {
	n    int    // connections refused since the previous line
	peer string // the address of the last of them
}

// auditor paces the audit lines of a Limiter's refusals: the first is
// written at once, later ones at most once per auditInterval, each counting
// the refusals since the previous one, so none goes unreported. It is
// guarded by the Limiter's mutex, and never logs under it.
type auditor struct {
	lim     *Limiter
	pending map[string]*pendingLine // by listener
	last    time.Time               // when the last lines were written
	timer   clockwork.Timer         // the flush to come; nil when none is
}

// addLocked records a refusal on listener name from peer, and schedules
// the flush that reports it.
func (a *auditor) addLocked(name, peer string, now time.Time) {
	p := a.pending[name]
	if p == nil {
		p = &pendingLine{}
		a.pending[name] = p
	}
	p.n++
	p.peer = peer
	if a.timer == nil {
		a.timer = a.lim.cfg.Clock.AfterFunc(a.last.Add(auditInterval).Sub(now), a.flush)
	}
}

// flush writes one audit line per listener with refusals pending.
func (a *auditor) flush() {
	l := a.lim
	l.mu.Lock()
	pending := a.pending
	a.pending, a.timer, a.last = map[string]*pendingLine{}, nil, l.cfg.Clock.Now()
	open, authed := l.authed+l.unauth.Len(), l.authed
	l.mu.Unlock()
	for name, p := range pending {
		l.cfg.Logger.Warn().Str("audit", "refused").Str("listener", name).Str("peer", p.peer).
			Int("connections", p.n).Int("open", open).Int("authenticated", authed).
			Int("max", l.cfg.Max).Int("reserve", l.cfg.Reserve).Err(ErrCapped).
			Msg("connections closed by the connection cap")
	}
}
