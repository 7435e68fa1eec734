// Package connlimit bounds the connections a process holds open across its
// listeners, keeping headroom for authenticated peers: an unauthenticated
// connection may hold only the slots outside a reserve, and when those are
// full the oldest unauthenticated connection is closed to admit the newest,
// so a flood of idle connections can never lock an authenticated peer out.
// A connection becomes authenticated when a call on it passes the listener's
// authentication (Gate); every refusal is counted and audited.
package connlimit
