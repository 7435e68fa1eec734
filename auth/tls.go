package auth

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"syscall"
	"time"
)

// TLSFiles names PEM files: this side's certificate and key, and the CAs it
// trusts to sign the other side's certificate. Each is read again when it
// changes, so a rotation needs no restart.
type TLSFiles struct {
	// Cert and Key are this side's certificate chain and private key; both
	// or neither. A server needs them; a client only for mutual TLS.
	Cert, Key string
	// CA is a bundle of CA certificates. On a server it makes client
	// certificates signed by one of them required (Guard enforces it); on a
	// client it replaces the system roots for the server's certificate.
	// Default: none (server), the system roots (client).
	CA string
}

// Enabled reports whether any file is named.
func (f TLSFiles) Enabled() bool { return f.Cert != "" || f.Key != "" || f.CA != "" }

// Validate reports every problem at once; a server needs Cert and Key.
func (f TLSFiles) Validate(server bool) error {
	var errs []error
	if (f.Cert == "") != (f.Key == "") {
		errs = append(errs, fmt.Errorf("%w: a TLS certificate and its key go together", ErrConfig))
	}
	if server && f.Cert == "" && f.Enabled() {
		errs = append(errs, fmt.Errorf("%w: a TLS server needs its certificate and key", ErrConfig))
	}
	return errors.Join(errs...)
}

// nextProtos offers HTTP/2 first: Connect and gRPC run over it.
var nextProtos = []string{"h2", "http/1.1"}

// ServerTLS is the TLS side of a listener: its certificate and, with a CA
// bundle, the verification of client certificates.
type ServerTLS struct {
	pair *reloader[tls.Certificate]
	cas  *reloader[*x509.CertPool] // nil: client certificates are not asked for
}

// NewServerTLS loads f; a server needs f.Cert and f.Key. With f.CA, client
// certificates are asked for and VerifyClient checks them against it.
// WithLogger logs reloads and a key file others may read.
func NewServerTLS(f TLSFiles, opts ...Option) (*ServerTLS, error) {
	if err := f.Validate(true); err != nil {
		return nil, err
	}
	if !f.Enabled() {
		return nil, fmt.Errorf("%w: no TLS files", ErrConfig)
	}
	o := newOptions(opts)
	s := &ServerTLS{}
	var err error
	if s.pair, err = newPairReloader(f, o); err != nil {
		return nil, err
	}
	if f.CA != "" {
		if s.cas, err = newCAReloader(f, o); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// VerifiesClients reports whether client certificates are asked for.
func (s *ServerTLS) VerifiesClients() bool { return s.cas != nil }

// Config returns the listener's TLS configuration. A client certificate is
// asked for but not checked in the handshake: Guard checks it with
// VerifyClient, so a refusal reaches the caller as a gRPC status and leaves an
// audit line, instead of a handshake failure neither side can read.
func (s *ServerTLS) Config() *tls.Config {
	c := &tls.Config{MinVersion: tls.VersionTLS12, NextProtos: nextProtos}
	c.GetCertificate = func(*tls.ClientHelloInfo) (*tls.Certificate, error) {
		cert := s.pair.get()
		return &cert, nil
	}
	if s.cas != nil {
		c.ClientAuth = tls.RequestClientCert
	}
	return c
}

// VerifyClient checks the client certificate of a connection against the
// CA bundle as it is now and returns it.
func (s *ServerTLS) VerifyClient(cs *tls.ConnectionState) (*x509.Certificate, error) {
	if s.cas == nil {
		return nil, fmt.Errorf("%w: client certificates are not configured", ErrUnauthenticated)
	}
	if cs == nil || len(cs.PeerCertificates) == 0 {
		return nil, fmt.Errorf("%w: a client certificate signed by a trusted CA is required", ErrUnauthenticated)
	}
	return verifyChain(cs.PeerCertificates, s.cas.get(), "", x509.ExtKeyUsageClientAuth)
}

// verifyChain verifies certs[0] with certs[1:] as intermediates against
// roots (nil: the system roots), for usage, and for dnsName unless empty.
func verifyChain(certs []*x509.Certificate, roots *x509.CertPool, dnsName string, usage x509.ExtKeyUsage) (*x509.Certificate, error) {
	leaf := certs[0]
	opts := x509.VerifyOptions{Roots: roots, Intermediates: x509.NewCertPool(), DNSName: dnsName,
		KeyUsages: []x509.ExtKeyUsage{usage}}
	for _, c := range certs[1:] {
		opts.Intermediates.AddCert(c)
	}
	if _, err := leaf.Verify(opts); err != nil {
		return nil, fmt.Errorf("%w: certificate of %q: %w", ErrUnauthenticated, Identity(leaf), err)
	}
	return leaf, nil
}

// ClientTLS is the TLS side of a client. Each connection gets a
// configuration made from the files as they are then (Config, DialTLSContext).
type ClientTLS struct {
	pair  *reloader[tls.Certificate] // nil: no client certificate
	cas   *reloader[*x509.CertPool]  // nil: the system roots
	allow AllowList
	dial  net.Dialer
}

// NewClientTLS loads f. The server's certificate is verified against f.CA (or
// the system roots) and must name the host dialled or, with allowPeers, one
// of them whatever the host (a DNS name as a DNS SAN, a URI such as a SPIFFE
// ID as a URI SAN); f.Cert is presented for mutual TLS. WithLogger logs
// reloads and a key file others may read.
func NewClientTLS(f TLSFiles, allowPeers AllowList, opts ...Option) (*ClientTLS, error) {
	if err := f.Validate(false); err != nil {
		return nil, err
	}
	o := newOptions(opts)
	c := &ClientTLS{allow: allowPeers, dial: net.Dialer{Timeout: dialTimeout, KeepAlive: 30 * time.Second}}
	var err error
	if f.Cert != "" {
		if c.pair, err = newPairReloader(f, o); err != nil {
			return nil, err
		}
	}
	if f.CA != "" {
		if c.cas, err = newCAReloader(f, o); err != nil {
			return nil, err
		}
	}
	return c, nil
}

// dialTimeout bounds a TCP connect.
const dialTimeout = 10 * time.Second

// Config returns the configuration of one connection to serverName.
func (c *ClientTLS) Config(serverName string) (*tls.Config, error) {
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, NextProtos: nextProtos, ServerName: serverName}
	if c.pair != nil {
		cfg.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
			cert := c.pair.get()
			return &cert, nil
		}
	}
	if c.cas != nil {
		cfg.RootCAs = c.cas.get()
	}
	if len(c.allow) > 0 {
		// The name to check is not the host's: the chain and the name are
		// verified here instead of by crypto/tls.
		cfg.InsecureSkipVerify = true
		roots := cfg.RootCAs
		cfg.VerifyConnection = func(cs tls.ConnectionState) error { return verifyServer(cs, roots, c.allow) }
	}
	return cfg, nil
}

// DialTLSContext dials addr and completes a TLS handshake with a fresh
// Config for addr's host; http.Transport takes it as its DialTLSContext.
func (c *ClientTLS) DialTLSContext(ctx context.Context, network, addr string) (net.Conn, error) {
	return c.dialTLS(ctx, &c.dial, network, addr, nil)
}

// DialerHTTP1 returns a DialTLSContext that offers only HTTP/1.1 by ALPN,
// for a transport that speaks nothing else, and runs control (if not nil)
// on each socket before it connects, as net.Dialer.Control does.
func (c *ClientTLS) DialerHTTP1(control func(network, address string, conn syscall.RawConn) error) func(ctx context.Context, network, addr string) (net.Conn, error) {
	d := c.dial
	d.Control = control
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		return c.dialTLS(ctx, &d, network, addr, []string{"http/1.1"})
	}
}

// dialTLS dials addr with nd over TLS, offering protos by ALPN (nil:
// nextProtos).
func (c *ClientTLS) dialTLS(ctx context.Context, nd *net.Dialer, network, addr string, protos []string) (net.Conn, error) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("dial %s: %w", addr, err)
	}
	cfg, err := c.Config(host)
	if err != nil {
		return nil, err
	}
	if protos != nil {
		cfg.NextProtos = protos
	}
	d := tls.Dialer{NetDialer: nd, Config: cfg}
	conn, err := d.DialContext(ctx, network, addr)
	if err != nil {
		return nil, fmt.Errorf("tls dial %s: %w", addr, err)
	}
	return conn, nil
}

// verifyServer checks the server's chain against roots (nil: the system
// roots) and that it names one of allowPeers.
func verifyServer(cs tls.ConnectionState, roots *x509.CertPool, allowPeers AllowList) error {
	if len(cs.PeerCertificates) == 0 {
		return fmt.Errorf("%w: the server sent no certificate", ErrUnauthenticated)
	}
	leaf, err := verifyChain(cs.PeerCertificates, roots, "", x509.ExtKeyUsageServerAuth)
	if err != nil {
		return err
	}
	if !allowPeers.Allows(leaf) {
		return fmt.Errorf("%w: server certificate names %v, none of %v", ErrPermissionDenied, Names(leaf), allowPeers)
	}
	return nil
}

// newPairReloader loads f's certificate and key; the key is a secret.
func newPairReloader(f TLSFiles, o options) (*reloader[tls.Certificate], error) {
	return newReloader("TLS certificate and key", parsePair, o, watched{path: f.Cert}, watched{path: f.Key, secret: true})
}

// newCAReloader loads f's CA bundle.
func newCAReloader(f TLSFiles, o options) (*reloader[*x509.CertPool], error) {
	return newReloader("TLS CA bundle", parsePool, o, watched{path: f.CA})
}

func parsePair(data [][]byte) (tls.Certificate, error) {
	cert, err := tls.X509KeyPair(data[0], data[1])
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("%w: certificate and key: %w", ErrConfig, err)
	}
	return cert, nil
}

func parsePool(data [][]byte) (*x509.CertPool, error) {
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(data[0]) {
		return nil, fmt.Errorf("%w: CA bundle holds no PEM certificate", ErrConfig)
	}
	return pool, nil
}
