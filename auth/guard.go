package auth

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/rs/zerolog"
)

// Guard admits a call only if every check it is configured with passes, in
// order: a client certificate verified by Clients, a certificate naming an
// allowed peer (AllowPeers), the shared token (Token). A refused
// call gets UNAUTHENTICATED or PERMISSION_DENIED in the protocol it spoke
// (gRPC, gRPC-Web or Connect; plain HTTP 401/403 otherwise) and one audit log
// line. The zero Guard admits everything.
type Guard struct {
	// Clients, if set and asking for client certificates, refuses a call
	// without one that its CA bundle verifies.
	Clients *ServerTLS
	// AllowPeers, if set, lists the names of which the verified client
	// certificate must carry one, each as a SAN of its own type (a DNS name
	// as a DNS SAN, a URI as a URI SAN). It needs Clients.
	AllowPeers AllowList
	// Token, if set, must arrive as "Authorization: Bearer TOKEN".
	Token *Token
	// Exempt, if set, names procedures (URL paths) every caller may reach,
	// e.g. the gRPC health check a probe calls. Default: none.
	Exempt func(path string) bool
	// Log receives the audit line of each refusal, at most 20 a second in
	// full (the others are counted in one line). Default: discard.
	Log zerolog.Logger
	// Now is the clock of that pacing. Default: time.Now.
	Now func() time.Time

	pace pacer
}

// Enabled reports whether the guard checks anything.
func (g *Guard) Enabled() bool {
	return g.verifiesClients() || len(g.AllowPeers) > 0 || g.Token != nil
}

func (g *Guard) verifiesClients() bool { return g.Clients != nil && g.Clients.VerifiesClients() }

// Wrap returns h behind the guard.
func (g *Guard) Wrap(h http.Handler) http.Handler {
	if !g.Enabled() {
		return h
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if g.Exempt != nil && g.Exempt(r.URL.Path) {
			h.ServeHTTP(w, r)
			return
		}
		id, err := g.check(r)
		if err == nil {
			h.ServeHTTP(w, r.WithContext(withIdentity(r.Context(), id)))
			return
		}
		g.audit(r, err)
		WriteRefusal(w, r, err)
	})
}

// check returns the caller's verified identity ("" without a client
// certificate), or why r is refused.
func (g *Guard) check(r *http.Request) (string, error) {
	var id string
	switch {
	case g.verifiesClients():
		leaf, err := g.Clients.VerifyClient(r.TLS)
		if err != nil {
			return "", err
		}
		if len(g.AllowPeers) > 0 && !g.AllowPeers.Allows(leaf) {
			return "", fmt.Errorf("%w: %q is not an allowed peer", ErrPermissionDenied, Identity(leaf))
		}
		id = Identity(leaf)
	case len(g.AllowPeers) > 0:
		return "", fmt.Errorf("%w: an allow-list needs client certificates (a CA bundle)", ErrUnauthenticated)
	}
	if g.Token != nil && !g.Token.Check(r.Header.Get("Authorization")) {
		return "", fmt.Errorf("%w: missing or wrong bearer token", ErrUnauthenticated)
	}
	return id, nil
}

// audit logs a refusal: who (address, certificate identity), what, why. The
// Authorization header is never logged.
func (g *Guard) audit(r *http.Request, err error) {
	now := time.Now
	if g.Now != nil {
		now = g.Now
	}
	ok, heldBack := g.pace.allow(now())
	if heldBack > 0 {
		g.Log.Warn().Str("audit", "refused").Int("not_logged", heldBack).
			Msg("calls refused and not logged in full (more than 20 a second)")
	}
	if !ok {
		return
	}
	ev := g.Log.Warn().Str("audit", "refused").Str("peer", r.RemoteAddr).Str("procedure", r.URL.Path)
	if r.TLS != nil && len(r.TLS.PeerCertificates) > 0 {
		ev = ev.Str("claimed_identity", Identity(r.TLS.PeerCertificates[0]))
	}
	ev.Err(err).Msg("call refused")
}

type identityKey struct{}

func withIdentity(ctx context.Context, id string) context.Context {
	if id == "" {
		return ctx
	}
	return context.WithValue(ctx, identityKey{}, id)
}

// IdentityFrom returns the verified certificate identity Guard admitted the
// call under, or "" (no client certificate).
func IdentityFrom(ctx context.Context) string {
	id, _ := ctx.Value(identityKey{}).(string)
	return id
}
