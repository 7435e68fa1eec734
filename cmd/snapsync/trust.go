package main

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"

	"github.com/rs/zerolog"
	"github.com/spf13/pflag"

	"github.com/snapsync/snapsync/auth"
	"github.com/snapsync/snapsync/client"
	"github.com/snapsync/snapsync/server"
)

// trustFlags configure who a sidecar or an install talks to: TLS files, the
// peer allow-list and the shared token. The same files serve both ways: a
// serving sidecar presents its certificate to peers and, when its local API
// prepares an install, to the peer it fetches from.
type trustFlags struct {
	tls        auth.TLSFiles
	allowPeers []string
	tokenFile  string
}

func (f *trustFlags) add(fl *pflag.FlagSet, serving bool) {
	fl.StringVar(&f.tls.Cert, "tls-cert", "", "PEM certificate chain this side presents (reloaded when the file changes)")
	fl.StringVar(&f.tls.Key, "tls-key", "", "PEM private key of --tls-cert")
	ca := "PEM CA bundle that signs the server's certificate (default: the system roots)"
	if serving {
		ca = "PEM CA bundle that signs peers' certificates: clients must present one (mutual TLS); also verifies the peers this sidecar fetches from"
	}
	fl.StringVar(&f.tls.CA, "tls-ca", "", ca)
	fl.StringSliceVar(&f.allowPeers, "allow-peer", nil,
		"accept only peers whose certificate names this: dns:NAME or a bare NAME (a DNS SAN), "+
			"uri:URI or spiffe://… (a URI SAN); repeatable")
	fl.StringVar(&f.tokenFile, "token-file", "", "file holding a shared bearer token (at least 16 bytes) every peer call carries")
}

// allowList parses --allow-peer, refusing every malformed entry at once.
func (f *trustFlags) allowList() (auth.AllowList, error) {
	l, err := auth.ParseAllowList(f.allowPeers)
	if err != nil {
		return nil, fmt.Errorf("--allow-peer: %w", err)
	}
	return l, nil
}

// token loads --token-file, or returns nil without one; log hears of its
// reloads and of a mode that lets others read it.
func (f *trustFlags) token(log zerolog.Logger) (*auth.Token, error) {
	if f.tokenFile == "" {
		return nil, nil
	}
	t, err := auth.LoadToken(f.tokenFile, auth.WithLogger(log))
	if err != nil {
		return nil, fmt.Errorf("--token-file: %w", err)
	}
	return t, nil
}

// httpClient returns the HTTP client an install fetches with: this side's
// TLS files and allow-list for https:// peers, and the token. log hears of
// the files' reloads and of secret files others may read.
func (f *trustFlags) httpClient(log zerolog.Logger) (*http.Client, error) {
	var opts []client.HTTPOption
	allow, err := f.allowList()
	if err != nil {
		return nil, err
	}
	if f.tls.Enabled() || len(allow) > 0 {
		c, err := auth.NewClientTLS(f.tls, allow, auth.WithLogger(log))
		if err != nil {
			return nil, fmt.Errorf("--tls-*: %w", err)
		}
		opts = append(opts, client.WithTLS(c))
	}
	tok, err := f.token(log)
	if err != nil {
		return nil, err
	}
	if tok != nil {
		opts = append(opts, client.WithToken(tok))
	}
	return client.NewHTTPClient(opts...), nil
}

// checkSourceURLs refuses an http:// source when TLS files are given: the
// operator asked for TLS and would silently not get it.
func (f *trustFlags) checkSourceURLs(urls ...string) error {
	if !f.tls.Enabled() && len(f.allowPeers) == 0 {
		return nil
	}
	for _, u := range urls {
		if strings.HasPrefix(u, "http://") {
			return fmt.Errorf("%s: TLS flags are given but the URL is http://; use https://", u)
		}
	}
	return nil
}

// peerListener is how serve's peer listener is protected.
type peerListener struct {
	opts  []server.ServeOption
	guard *auth.Guard
}

// errInsecure refuses to serve peers on a non-loopback address in the clear
// or unauthenticated.
var errInsecure = errors.New("refusing to serve peers in the clear or unauthenticated on a non-loopback address")

// protection names what is missing for a non-loopback peer listener: TLS
// (so the DB and the token are not in the clear) and an authentication of
// the caller (client certificates against --tls-ca, or the token). "" when
// nothing is.
func (f *trustFlags) protection() string {
	encrypted := f.tls.Enabled()
	authenticated := f.tls.CA != "" || f.tokenFile != ""
	switch {
	case !encrypted && !authenticated:
		return "neither TLS nor authentication"
	case !encrypted:
		return "no TLS: the DB and the token would cross the network in the clear"
	case !authenticated:
		return "no authentication of callers: anyone who reaches it could copy the DB"
	}
	return ""
}

// insecureHelp says how to protect a peer listener.
const insecureHelp = "give --tls-cert and --tls-key with --tls-ca (mutual TLS) or with --token-file, " +
	"or --insecure to serve it anyway"

// listener returns the protection of the peer listener bound at addr,
// refusing a non-loopback address without both TLS and an authentication of
// callers unless insecure is set.
func (f *trustFlags) listener(addr net.Addr, insecure bool, log zerolog.Logger) (peerListener, error) {
	var pl peerListener
	allow, err := f.allowList()
	if err != nil {
		return pl, err
	}
	if len(allow) > 0 && f.tls.CA == "" {
		return pl, errors.New("--allow-peer needs --tls-ca: peers are named by their verified certificates")
	}
	tok, err := f.token(log)
	if err != nil {
		return pl, err
	}
	var st *auth.ServerTLS
	if f.tls.Enabled() {
		if st, err = auth.NewServerTLS(f.tls, auth.WithLogger(log)); err != nil {
			return pl, fmt.Errorf("--tls-*: %w", err)
		}
		pl.opts = append(pl.opts, server.WithTLS(st.Config()))
	}
	if missing := f.protection(); missing != "" && !isLoopback(addr) {
		if !insecure {
			return pl, fmt.Errorf("%w (%s: %s): %s", errInsecure, addr, missing, insecureHelp)
		}
		log.Warn().Str("addr", addr.String()).Str("missing", missing).Msg("--insecure: serving peers without full protection")
	}
	pl.guard = &auth.Guard{Clients: st, AllowPeers: allow, Token: tok, Log: log,
		Exempt: func(p string) bool { return strings.HasPrefix(p, "/grpc.health.v1.Health/") }}
	return pl, nil
}

func isLoopback(a net.Addr) bool {
	tcp, ok := a.(*net.TCPAddr)
	return ok && tcp.IP.IsLoopback()
}
