package auth

import (
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"
)

// PeerName is one entry of a peer allow-list: a DNS name, which matches only
// a certificate's DNS SANs, or a URI (a SPIFFE ID such as
// spiffe://cluster/ns/ozone/sa/om), which matches only its URI SANs. The
// type is part of the name: a DNS SAN that spells a SPIFFE ID is not that ID.
type PeerName struct {
	uri  bool
	name string // a DNS name in lower case, or a URI as url.URL.String spells it
}

// ParsePeerName parses an --allow-peer entry: "dns:NAME" or a bare NAME (a
// DNS name), "uri:URI" or "spiffe://…" (a URI). Anything else, a bare name
// with a scheme ("https://x": write uri:https://x) or an IP address, is
// refused with an error wrapping ErrConfig.
func ParsePeerName(s string) (PeerName, error) {
	var n PeerName
	var err error
	switch {
	case strings.HasPrefix(s, "dns:"):
		n, err = parseDNSName(s[len("dns:"):])
	case strings.HasPrefix(s, "uri:"):
		n, err = parseURIName(s[len("uri:"):])
	case strings.HasPrefix(s, "spiffe:"):
		n, err = parseURIName(s)
	case strings.Contains(s, "://"):
		err = fmt.Errorf("a bare name is a DNS name; write uri:%s to match a URI SAN", s)
	case strings.Contains(s, ":"):
		err = errors.New("not a DNS name; write dns:NAME, uri:URI or spiffe://TRUST-DOMAIN/PATH")
	default:
		n, err = parseDNSName(s)
	}
	if err != nil {
		return PeerName{}, fmt.Errorf("%w: allowed peer %q: %w", ErrConfig, s, err)
	}
	return n, nil
}

// String spells n as ParsePeerName reads it back: dns:NAME or uri:URI.
func (n PeerName) String() string {
	if n.uri {
		return "uri:" + n.name
	}
	return "dns:" + n.name
}

// parseDNSName accepts a host name: dot-separated labels of letters, digits,
// '-' and '_', the first of which may be a wildcard "*" (matched as written,
// against a wildcard SAN). An IP address is refused: IP SANs are not names.
func parseDNSName(s string) (PeerName, error) {
	if net.ParseIP(s) != nil {
		return PeerName{}, errors.New("an IP address is not a peer name; give a DNS name or a URI")
	}
	if s == "" || len(s) > 253 {
		return PeerName{}, errors.New("a DNS name has 1 to 253 characters")
	}
	for i, label := range strings.Split(s, ".") {
		if !validLabel(label) && (i > 0 || label != "*") {
			return PeerName{}, fmt.Errorf("not a DNS name: label %q", label)
		}
	}
	return PeerName{name: strings.ToLower(s)}, nil
}

func validLabel(l string) bool {
	if l == "" || len(l) > 63 {
		return false
	}
	for _, c := range l {
		if !isAlnum(c) && c != '-' && c != '_' {
			return false
		}
	}
	return true
}

func isAlnum(c rune) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9'
}

// parseURIName accepts an absolute URI; a spiffe: one must be a SPIFFE ID.
func parseURIName(s string) (PeerName, error) {
	u, err := url.Parse(s)
	switch {
	case err != nil:
		return PeerName{}, err
	case u.Scheme == "":
		return PeerName{}, errors.New("not an absolute URI (no scheme)")
	case u.Host == "" && u.Opaque == "":
		return PeerName{}, errors.New("a URI names something after its scheme")
	case u.Scheme == "spiffe":
		if err := checkSPIFFE(u); err != nil {
			return PeerName{}, err
		}
	}
	return PeerName{uri: true, name: u.String()}, nil
}

// checkSPIFFE checks u against the SPIFFE ID format: spiffe://TRUST-DOMAIN
// and a path of non-empty segments, no port, user, query or fragment.
func checkSPIFFE(u *url.URL) error {
	const bad = "not a SPIFFE ID (spiffe://TRUST-DOMAIN/PATH: lower-case trust domain, no port, user, query or fragment)"
	if u.Host == "" || u.Port() != "" || u.User != nil || u.RawQuery != "" || u.ForceQuery || u.Fragment != "" || u.Opaque != "" {
		return errors.New(bad)
	}
	for _, c := range u.Host {
		if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '.' || c == '-' || c == '_') {
			return errors.New(bad)
		}
	}
	if u.Path == "" {
		return nil
	}
	for _, seg := range strings.Split(u.Path[1:], "/") {
		if seg == "" || seg == "." || seg == ".." {
			return fmt.Errorf("%s: path segment %q", bad, seg)
		}
	}
	return nil
}

// AllowList is the peers a side accepts: a certificate passes when one of
// its SANs is one of the names, of the same type.
type AllowList []PeerName

// ParseAllowList parses every entry (see ParsePeerName) and reports every
// bad one at once.
func ParseAllowList(entries []string) (AllowList, error) {
	var l AllowList
	var errs []error
	for _, e := range entries {
		n, err := ParsePeerName(e)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		l = append(l, n)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return l, nil
}

// Allows reports whether c names one of l: a DNS entry one of c's DNS SANs
// (compared without case), a URI entry one of its URI SANs, exactly.
func (l AllowList) Allows(c *x509.Certificate) bool {
	for _, n := range Names(c) {
		for _, a := range l {
			if a.uri == n.uri && (a.name == n.name || !a.uri && strings.EqualFold(a.name, n.name)) {
				return true
			}
		}
	}
	return false
}

// Names lists what a certificate names, typed: its DNS SANs, then its URI
// SANs (e.g. spiffe://domain/ns/x/sa/y), as written in it.
func Names(c *x509.Certificate) []PeerName {
	names := make([]PeerName, 0, len(c.DNSNames)+len(c.URIs))
	for _, d := range c.DNSNames {
		names = append(names, PeerName{name: d})
	}
	for _, u := range c.URIs {
		names = append(names, PeerName{uri: true, name: u.String()})
	}
	return names
}

// Identity is how an audit line names the holder of c: its first URI SAN,
// else its first DNS SAN, else its subject's common name. A DNS SAN holding
// a ':' (no host name does) is written dns:NAME, so that it cannot pass for
// a URI in the log.
func Identity(c *x509.Certificate) string {
	switch {
	case len(c.URIs) > 0:
		return c.URIs[0].String()
	case len(c.DNSNames) > 0 && strings.Contains(c.DNSNames[0], ":"):
		return PeerName{name: c.DNSNames[0]}.String()
	case len(c.DNSNames) > 0:
		return c.DNSNames[0]
	}
	return c.Subject.CommonName
}
