// Package testpki makes certificate authorities and certificates with
// crypto/x509 for tests: real PEM files that real TLS servers and clients,
// in-process or in a child process, load.
package testpki

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// CA is a certificate authority made for one test.
type CA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	pem  []byte
}

// PEM returns the CA's certificate, PEM-encoded: what a CA bundle holds.
func (ca *CA) PEM() []byte { return ca.pem }

// NewCA returns a new self-signed CA named name.
func NewCA(tb testing.TB, name string) *CA {
	tb.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		tb.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial(tb), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		tb.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		tb.Fatal(err)
	}
	return &CA{cert: cert, key: key, pem: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})}
}

func serial(tb testing.TB) *big.Int {
	n, err := rand.Int(rand.Reader, big.NewInt(1<<62))
	if err != nil {
		tb.Fatal(err)
	}
	return n
}

// Issue returns the PEM certificate and key of a leaf for usage naming
// names: a name with "://" is a URI SAN, an IP an IP SAN, anything else a
// DNS SAN. A name written "dns:NAME" is a DNS SAN of NAME whatever NAME looks
// like: "dns:spiffe://cluster/sa/om" makes the DNS SAN a hostile CA would
// issue to pass for that SPIFFE ID.
func (ca *CA) Issue(tb testing.TB, usage x509.ExtKeyUsage, names ...string) (certPEM, keyPEM []byte) {
	tb.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		tb.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial(tb), Subject: pkix.Name{CommonName: names[0]},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: usages(usage),
	}
	for _, n := range names {
		if dns, ok := strings.CutPrefix(n, "dns:"); ok {
			tmpl.DNSNames = append(tmpl.DNSNames, dns)
		} else if u, err := url.Parse(n); err == nil && u.Scheme != "" && u.Host != "" {
			tmpl.URIs = append(tmpl.URIs, u)
		} else if ip := net.ParseIP(n); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, n)
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		tb.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		tb.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder})
}

// TLSCert is Issue's leaf as a tls.Certificate, for an in-process server
// or client.
func (ca *CA) TLSCert(tb testing.TB, usage x509.ExtKeyUsage, names ...string) tls.Certificate {
	tb.Helper()
	certPEM, keyPEM := ca.Issue(tb, usage, names...)
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		tb.Fatal(err)
	}
	return cert
}

// Pool returns a certificate pool holding the CA alone: a client's RootCAs,
// a server's ClientCAs.
func (ca *CA) Pool() *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(ca.cert)
	return p
}

// Both is a usage for a certificate that serves and calls peers: server
// and client authentication.
const Both x509.ExtKeyUsage = -1

func usages(u x509.ExtKeyUsage) []x509.ExtKeyUsage {
	if u == Both {
		return []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}
	}
	return []x509.ExtKeyUsage{u}
}

// Files are the paths of a leaf's certificate and key and of its CA's
// bundle.
type Files struct{ Cert, Key, CA string }

// Files writes a leaf's certificate and key (and the CA bundle) under dir as
// name.crt, name.key and ca-name.crt, and returns their paths.
func (ca *CA) Files(tb testing.TB, dir, name string, usage x509.ExtKeyUsage, names ...string) Files {
	tb.Helper()
	c, k := ca.Issue(tb, usage, names...)
	f := Files{Cert: filepath.Join(dir, name+".crt"), Key: filepath.Join(dir, name+".key"), CA: filepath.Join(dir, "ca-"+name+".crt")}
	WriteFile(tb, f.Cert, c)
	WriteFile(tb, f.Key, k)
	WriteFile(tb, f.CA, ca.pem)
	return f
}

// WriteFile replaces path as a rotation does: a new file renamed over it.
func WriteFile(tb testing.TB, path string, data []byte) {
	tb.Helper()
	tmp := path + ".new"
	if err := os.WriteFile(tmp, data, 0o600); err != nil {
		tb.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		tb.Fatal(err)
	}
}
