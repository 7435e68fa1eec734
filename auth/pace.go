package auth

import (
	"sync"
	"time"
)

// auditBurst is how many refusal lines a Guard logs in full a second; the
// rest of that second are counted and reported in one line, so a flood of
// refused calls cannot flood the log (docs/SECURITY.md, Connection floods).
const auditBurst = 20

// pacer lets auditBurst events a second through and counts the others.
type pacer struct {
	mu         sync.Mutex
	window     time.Time // start of the current second
	n          int       // events in it
	suppressed int       // of them, not let through
}

// allow reports whether the event at now may be logged in full, and how many
// events of earlier seconds were held back and not yet reported.
func (p *pacer) allow(now time.Time) (ok bool, heldBack int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if now.Sub(p.window) >= time.Second || now.Before(p.window) {
		heldBack, p.suppressed = p.suppressed, 0
		p.window, p.n = now, 0
	}
	p.n++
	if p.n > auditBurst {
		p.suppressed++
		return false, heldBack
	}
	return true, heldBack
}
