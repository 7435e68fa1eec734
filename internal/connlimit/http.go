package connlimit

import (
	"context"
	"net"
	"net/http"
)

// connKey carries a request's connection from ConnContext to Gate.
type connKey struct{}

// ConnContext records c's slot in ctx, for the http.Server.ConnContext of a
// listener made by Listen (under TLS or not).
func ConnContext(ctx context.Context, c net.Conn) context.Context {
	for {
		switch v := c.(type) {
		case *conn:
			return context.WithValue(ctx, connKey{}, v)
		case interface{ NetConn() net.Conn }: // *tls.Conn
			c = v.NetConn()
		default:
			return ctx
		}
	}
}

// Authenticated marks the connection of ctx (a request's context) as
// authenticated: it leaves the unauthenticated share and is never closed to
// make room. Without a connection recorded by ConnContext it does nothing.
func Authenticated(ctx context.Context) {
	if c, ok := ctx.Value(connKey{}).(*conn); ok {
		c.lim.promote(c)
	}
}

// IsAuthenticated reports whether the connection of ctx is authenticated.
func IsAuthenticated(ctx context.Context) bool {
	c, ok := ctx.Value(connKey{}).(*conn)
	return ok && c.lim.authenticated(c)
}

// Gate puts h behind guard (such as auth.Guard.Wrap) and ties the
// connection to its verdict: a call that guard lets through makes its
// connection authenticated, unless exempt (if not nil) names its path, as
// for a health check open to every caller. Any other response on a
// connection not authenticated ends the connection: "Connection: close",
// on which net/http closes an HTTP/1.1 connection after the response and
// sends an HTTP/2 one GOAWAY, closing it once its streams end. A refused
// caller thus holds no connection open.
func Gate(guard func(http.Handler) http.Handler, exempt func(path string) bool, h http.Handler) http.Handler {
	admitted := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if exempt == nil || !exempt(r.URL.Path) {
			Authenticated(r.Context())
			w.Header().Del("Connection")
		}
		h.ServeHTTP(w, r)
	})
	guarded := guard(admitted)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !IsAuthenticated(r.Context()) {
			w.Header().Set("Connection", "close")
		}
		guarded.ServeHTTP(w, r)
	})
}
