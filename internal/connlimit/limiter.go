package connlimit

import (
	"container/list"
	"errors"
	"net"
	"sync"
	"time"
)

// ErrCapped is the error of the audit line of refused connections.
var ErrCapped = errors.New("connlimit: connection cap reached")

// Limiter bounds the connections of the listeners it wraps (Listen) to
// Config.Max, of which unauthenticated ones hold at most Max−Reserve. A
// connection accepted beyond that closes the oldest unauthenticated one, or
// is itself closed at once when every slot is held by an authenticated one.
type Limiter struct {
	cfg Config

	mu      sync.Mutex
	unauth  list.List // of *conn, oldest first
	authed  int
	refused map[string]int64 // by listener, since the start
	audit   auditor
}

// Stats is what a Limiter holds at one moment.
type Stats struct {
	Max, Reserve                   int
	Authenticated, Unauthenticated int
	// Refused counts, by listener name, the connections closed by the cap
	// since the start.
	Refused map[string]int64
}

// New returns a Limiter configured by cfg (defaults filled).
func New(cfg Config) (*Limiter, error) {
	cfg.EnsureDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	l := &Limiter{cfg: cfg, refused: map[string]int64{}}
	l.audit = auditor{lim: l, pending: map[string]*pendingLine{}}
	return l, nil
}

// Stats returns the limiter's counts now.
func (l *Limiter) Stats() Stats {
	l.mu.Lock()
	defer l.mu.Unlock()
	s := Stats{Max: l.cfg.Max, Reserve: l.cfg.Reserve, Authenticated: l.authed, Unauthenticated: l.unauth.Len(),
		Refused: make(map[string]int64, len(l.refused))}
	for k, v := range l.refused {
		s.Refused[k] = v
	}
	return s
}

// admit takes a slot for c, accepted on listener name. It returns the
// connection to serve, nil when c is refused, and the connection to close
// to make room (nil when none); the caller closes them.
func (l *Limiter) admit(c net.Conn, name string) (admitted, victim *conn) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.cfg.Clock.Now()
	full := l.unauth.Len() >= l.cfg.Max-l.cfg.Reserve || l.authed+l.unauth.Len() >= l.cfg.Max
	if full && l.unauth.Len() == 0 {
		l.refuseLocked(name, c.RemoteAddr(), now)
		return nil, nil
	}
	if full {
		victim = l.unauth.Remove(l.unauth.Front()).(*conn)
		victim.elem, victim.released = nil, true
		l.refuseLocked(victim.listener, victim.RemoteAddr(), now)
	}
	admitted = &conn{Conn: c, lim: l, listener: name}
	admitted.elem = l.unauth.PushBack(admitted)
	return admitted, victim
}

// refuseLocked counts a refused connection from peer on listener name.
func (l *Limiter) refuseLocked(name string, peer net.Addr, now time.Time) {
	l.refused[name]++
	addr := ""
	if peer != nil {
		addr = peer.String()
	}
	l.audit.addLocked(name, addr, now)
}

// promote marks c authenticated: it leaves the unauthenticated share and
// is never closed to make room.
func (l *Limiter) promote(c *conn) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if c.released || c.elem == nil {
		return
	}
	l.unauth.Remove(c.elem)
	c.elem = nil
	l.authed++
}

// authenticated reports whether c has been promoted.
func (l *Limiter) authenticated(c *conn) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return !c.released && c.elem == nil
}

// release frees c's slot; it is called once c closes (or is closed to make
// room, which freed it already).
func (l *Limiter) release(c *conn) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if c.released {
		return
	}
	c.released = true
	if c.elem != nil {
		l.unauth.Remove(c.elem)
		c.elem = nil
		return
	}
	l.authed--
}
