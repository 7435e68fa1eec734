package auth

import (
	"crypto/x509"
	"slices"
)

// Names lists what a certificate names, in the order an allow-list checks
// them: its DNS SANs, then its URI SANs (e.g. spiffe://domain/ns/x/sa/y).
func Names(c *x509.Certificate) []string {
	names := slices.Clone(c.DNSNames)
	for _, u := range c.URIs {
		names = append(names, u.String())
	}
	return names
}

// Allowed reports whether c names one of allow exactly.
func Allowed(c *x509.Certificate, allow []string) bool {
	for _, n := range Names(c) {
		if slices.Contains(allow, n) {
			return true
		}
	}
	return false
}

// Identity is how an audit line names the holder of c: its first URI SAN,
// else its first DNS SAN, else its subject's common name.
func Identity(c *x509.Certificate) string {
	switch {
	case len(c.URIs) > 0:
		return c.URIs[0].String()
	case len(c.DNSNames) > 0:
		return c.DNSNames[0]
	}
	return c.Subject.CommonName
}
