package sidecar

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"slices"
	"strings"

	"connectrpc.com/grpchealth"
	"github.com/rs/zerolog"

	"github.com/snapsync/snapsync/auth"
)

// LocalAuth decides who may call the node's local API: on a unix socket,
// a process whose uid (SO_PEERCRED) is allowed; on TCP, a caller presenting
// the token. A refused call gets PERMISSION_DENIED or UNAUTHENTICATED and an
// audit line. The gRPC health check is open to every caller.
type LocalAuth struct {
	// AllowUIDs lists the uids a unix-socket caller may have. Default: the
	// sidecar's own uid.
	AllowUIDs []uint32
	// Token is what a TCP caller must present as "Authorization: Bearer".
	// Without it every TCP caller is refused.
	Token *auth.Token
	// Log receives the audit line of each refusal. Default: discard.
	Log zerolog.Logger
}

// ErrNoLocalToken refuses a local API on TCP without a token: on loopback
// every local user, and every container of a pod, could call it.
var ErrNoLocalToken = errors.New("sidecar: the local API on TCP needs a token (or listen on a unix socket)")

// connKey carries a connection's peer uid from ConnContext to Wrap.
type connKey struct{}

type connPeer struct {
	unix bool
	uid  uint32
	err  error
}

// ConnContext records who is at the other end of c: the uid of a unix
// socket's peer. Serve the local listener with it (server.WithConnContext).
func ConnContext(ctx context.Context, c net.Conn) context.Context {
	uc, ok := c.(*net.UnixConn)
	if !ok {
		return context.WithValue(ctx, connKey{}, connPeer{})
	}
	uid, err := peerUID(uc)
	return context.WithValue(ctx, connKey{}, connPeer{unix: true, uid: uid, err: err})
}

// Wrap returns h behind the checks.
func (a *LocalAuth) Wrap(h http.Handler) http.Handler {
	allow := a.AllowUIDs
	if len(allow) == 0 {
		allow = []uint32{uint32(os.Getuid())} //nolint:gosec // uids fit in 32 bits on Linux
	}
	health := "/" + grpchealth.HealthV1ServiceName + "/"
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, health) {
			h.ServeHTTP(w, r)
			return
		}
		err := a.check(r, allow)
		if err == nil {
			h.ServeHTTP(w, r)
			return
		}
		a.Log.Warn().Str("audit", "refused").Str("api", "local").Str("peer", r.RemoteAddr).
			Str("procedure", r.URL.Path).Err(err).Msg("local call refused")
		auth.WriteRefusal(w, r, err)
	})
}

func (a *LocalAuth) check(r *http.Request, allow []uint32) error {
	p, _ := r.Context().Value(connKey{}).(connPeer)
	switch {
	case p.unix && p.err != nil:
		return fmt.Errorf("%w: %w", auth.ErrPermissionDenied, p.err)
	case p.unix && !slices.Contains(allow, p.uid):
		return fmt.Errorf("%w: uid %d may not call the local API (allowed: %v)", auth.ErrPermissionDenied, p.uid, allow)
	case p.unix:
		return nil
	case a.Token == nil:
		return fmt.Errorf("%w: %w", auth.ErrUnauthenticated, ErrNoLocalToken)
	case !a.Token.Check(r.Header.Get("Authorization")):
		return fmt.Errorf("%w: missing or wrong bearer token", auth.ErrUnauthenticated)
	}
	return nil
}
