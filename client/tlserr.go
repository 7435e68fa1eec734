package client

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"

	"connectrpc.com/connect"

	"github.com/snapsync/snapsync/auth"
)

// permanentAlerts are the TLS alerts a peer sends about a configuration,
// its own or this side's: the certificate it got, or the lack of one, or no
// protocol version, cipher suite or application protocol in common. Another
// attempt meets the same configuration. (internal_error and the like stay
// retryable: a server restarting may send them.)
var permanentAlerts = []tls.AlertError{
	40,  // handshake_failure: no common parameters; TLS 1.2's "certificate required"
	42,  // bad_certificate
	43,  // unsupported_certificate
	44,  // certificate_revoked
	45,  // certificate_expired
	46,  // certificate_unknown
	48,  // unknown_ca
	49,  // access_denied
	70,  // protocol_version
	71,  // insufficient_security
	116, // certificate_required
	120, // no_application_protocol
}

// tlsProblem reports whether err is a TLS failure no retry can fix: this
// side refused the server's certificate (crypto/x509's verdict, or the peer
// allow-list's), the server refused this side's with an alert, this side's
// files are unusable, or the server does not speak TLS at all.
func tlsProblem(err error) bool {
	if errors.Is(err, auth.ErrConfig) || errors.Is(err, auth.ErrUnauthenticated) || errors.Is(err, auth.ErrPermissionDenied) {
		// This side's verification of the server (the allow-list path) or
		// its files. A server's refusal arrives as a wire error, which
		// wraps none of these.
		return true
	}
	if _, ok := errors.AsType[*tls.CertificateVerificationError](err); ok {
		return true
	}
	if _, ok := errors.AsType[tls.RecordHeaderError](err); ok {
		return true // https:// to a cleartext server
	}
	if x509Problem(err) {
		return true
	}
	return permanentAlert(err)
}

// x509Problem reports whether err is crypto/x509's verdict on a chain.
func x509Problem(err error) bool {
	if _, ok := errors.AsType[x509.UnknownAuthorityError](err); ok {
		return true
	}
	if _, ok := errors.AsType[x509.HostnameError](err); ok {
		return true
	}
	if _, ok := errors.AsType[x509.CertificateInvalidError](err); ok {
		return true
	}
	if _, ok := errors.AsType[x509.SystemRootsError](err); ok {
		return true
	}
	if _, ok := errors.AsType[x509.UnhandledCriticalExtension](err); ok {
		return true
	}
	_, ok := errors.AsType[x509.InsecureAlgorithmError](err)
	return ok
}

// permanentAlert reports whether err is one of permanentAlerts from the
// peer. Over TCP crypto/tls reports a received alert as a *net.OpError
// "remote error" around an unexported type whose text is the AlertError's;
// over QUIC as an AlertError.
func permanentAlert(err error) bool {
	if a, ok := errors.AsType[tls.AlertError](err); ok {
		return isPermanentAlert(a.Error())
	}
	if oe, ok := errors.AsType[*net.OpError](err); ok && oe.Op == "remote error" && oe.Err != nil {
		return isPermanentAlert(oe.Err.Error())
	}
	return false
}

func isPermanentAlert(text string) bool {
	for _, a := range permanentAlerts {
		if a.Error() == text {
			return true
		}
	}
	return false
}

// tlsFailure wraps a TLS failure of what with ErrTLS. The Connect error
// the HTTP client's failure came in (UNAVAILABLE, whatever the cause) is
// dropped from the message; the cause is kept whole.
func tlsFailure(what string, err error) error {
	if ce, ok := errors.AsType[*connect.Error](err); ok && !connect.IsWireError(ce) && ce.Unwrap() != nil {
		err = ce.Unwrap()
	}
	return fmt.Errorf("%s: %w: %w", what, ErrTLS, err)
}
