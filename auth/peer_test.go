package auth

import (
	"crypto/x509"
	"errors"
	"strconv"
	"strings"
	"testing"

	"connectrpc.com/connect"

	"github.com/snapsync/snapsync/internal/testpki"
)

// allowList returns the allow-list of entries, as --allow-peer gives it.
func allowList(tb testing.TB, entries ...string) AllowList {
	tb.Helper()
	l, err := ParseAllowList(entries)
	if err != nil {
		tb.Fatal(err)
	}
	return l
}

const omID = "spiffe://cluster/ns/ozone/sa/om"

// typedNameCases are certificates and allow-lists, and whether the one may
// pass the other: an entry matches only SANs of its own type.
var typedNameCases = []struct {
	name  string
	sans  []string // testpki.Issue's names: "dns:" forces a DNS SAN
	allow []string
	ok    bool
}{
	{"a DNS SAN spelling a SPIFFE ID is not that ID", []string{"om-9.om.ozone.svc", "dns:" + omID}, []string{omID}, false},
	{"nor that uri:", []string{"om-9.om.ozone.svc", "dns:" + omID}, []string{"uri:" + omID}, false},
	{"a URI SAN is the SPIFFE ID", []string{"om-1.om.ozone.svc", omID}, []string{omID}, true},
	{"a URI SAN is that uri:", []string{"om-1.om.ozone.svc", omID}, []string{"uri:" + omID}, true},
	{"dns: matches a DNS SAN", []string{"om-1.om.ozone.svc"}, []string{"dns:om-1.om.ozone.svc"}, true},
	{"a bare name matches a DNS SAN", []string{"om-1.om.ozone.svc"}, []string{"om-1.om.ozone.svc"}, true},
	{"DNS names compare without case", []string{"OM-1.om.ozone.svc"}, []string{"om-1.OM.ozone.svc"}, true},
	{"dns: matches no other DNS SAN", []string{"om-9.om.ozone.svc", omID}, []string{"dns:om-1.om.ozone.svc"}, false},
	{"uri: matches no other URI SAN", []string{"om-9.om.ozone.svc", omID + "-9"}, []string{"uri:" + omID}, false},
}

// TestTypedNamesServerSide checks a client's certificate against the
// server's --allow-peer: only a SAN of the entry's own type passes.
func TestTypedNamesServerSide(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	ca := testpki.NewCA(t, "cluster CA")
	srv := TLSFiles(ca.Files(t, dir, "server", x509.ExtKeyUsageServerAuth, "localhost", "127.0.0.1"))
	st, err := NewServerTLS(srv)
	if err != nil {
		t.Fatal(err)
	}
	for i, tc := range typedNameCases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			base := serveGuarded(t, st, &Guard{Clients: st, AllowPeers: allowList(t, tc.allow...)})
			f := TLSFiles(ca.Files(t, dir, "client-"+string(rune('a'+i)), x509.ExtKeyUsageClientAuth, tc.sans...))
			c, err := NewClientTLS(f, nil)
			if err != nil {
				t.Fatal(err)
			}
			_, err = call(t, base, whoProcedure, c, nil)
			switch {
			case tc.ok && err != nil:
				t.Fatalf("refused: %v", err)
			case !tc.ok && connect.CodeOf(err) != connect.CodePermissionDenied:
				t.Fatalf("err %v, want PERMISSION_DENIED", err)
			}
		})
	}
}

// TestTypedNamesClientSide checks a server's certificate against the
// client's --allow-peer: only a SAN of the entry's own type passes.
func TestTypedNamesClientSide(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	ca := testpki.NewCA(t, "cluster CA")
	for i, tc := range typedNameCases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := TLSFiles(ca.Files(t, dir, "server-"+string(rune('a'+i)), x509.ExtKeyUsageServerAuth, tc.sans...))
			st, err := NewServerTLS(TLSFiles{Cert: f.Cert, Key: f.Key})
			if err != nil {
				t.Fatal(err)
			}
			base := serveGuarded(t, st, &Guard{})
			c, err := NewClientTLS(TLSFiles{CA: f.CA}, allowList(t, tc.allow...))
			if err != nil {
				t.Fatal(err)
			}
			_, err = call(t, base, whoProcedure, c, nil)
			switch {
			case tc.ok && err != nil:
				t.Fatalf("refused: %v", err)
			case !tc.ok && err == nil:
				t.Fatal("admitted")
			}
		})
	}
}

func TestParsePeerName(t *testing.T) {
	t.Parallel()
	testCases := []struct {
		entry string
		want  string // PeerName.String; "" for a refusal
	}{
		{"om-1.om.ozone.svc", "dns:om-1.om.ozone.svc"},
		{"OM-1.om.ozone.svc", "dns:om-1.om.ozone.svc"},
		{"dns:om-1.om.ozone.svc", "dns:om-1.om.ozone.svc"},
		{"*.om.ozone.svc", "dns:*.om.ozone.svc"},
		{"_grpc.om", "dns:_grpc.om"},
		{omID, "uri:" + omID},
		{"uri:" + omID, "uri:" + omID},
		{"spiffe://cluster", "uri:spiffe://cluster"},
		{"uri:https://om-1.example/node", "uri:https://om-1.example/node"},
		{"uri:urn:ozone:om-1", "uri:urn:ozone:om-1"},
		{"", ""},
		{"dns:", ""},
		{"uri:", ""},
		{"dns:" + omID, ""},
		{"uri:om-1.om.ozone.svc", ""},
		{"https://om-1.example/node", ""},
		{"ip:10.0.0.1", ""},
		{"DNS:om-1", ""},
		{"10.0.0.1", ""},
		{"dns:10.0.0.1", ""},
		{"om 1.svc", ""},
		{"om..svc", ""},
		{"om.svc.", ""},
		{"om.*.svc", ""},
		{"spiffe://", ""},
		{"spiffe:cluster/sa", ""},
		{"spiffe://Cluster/sa/om", ""},
		{"spiffe://cluster:8443/sa/om", ""},
		{"spiffe://me@cluster/sa/om", ""},
		{"spiffe://cluster/sa/om?x=1", ""},
		{"spiffe://cluster/sa/om#x", ""},
		{"spiffe://cluster/sa//om", ""},
		{"spiffe://cluster/sa/../om", ""},
		{"spiffe://cluster/sa/om/", ""},
	}
	for _, tc := range testCases {
		t.Run(tc.entry, func(t *testing.T) {
			t.Parallel()
			n, err := ParsePeerName(tc.entry)
			if tc.want == "" {
				if !errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), strconv.Quote(tc.entry)) {
					t.Fatalf("err %v, want ErrConfig naming the entry", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if n.String() != tc.want {
				t.Fatalf("%q, want %q", n, tc.want)
			}
			if again, err := ParsePeerName(n.String()); err != nil || again != n {
				t.Fatalf("%q read back as %q, %v", n, again, err)
			}
		})
	}
}

// TestParseAllowListReportsEveryEntry: a bad list says what is wrong with
// each bad entry at once, with a hint for a URI written bare.
func TestParseAllowListReportsEveryEntry(t *testing.T) {
	t.Parallel()
	_, err := ParseAllowList([]string{"om-1.svc", "https://om-2/x", "ip:10.0.0.3"})
	for _, want := range []string{`"https://om-2/x"`, "uri:https://om-2/x", `"ip:10.0.0.3"`} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Fatalf("err %v, want it to say %s", err, want)
		}
	}
}

func TestIdentityTyped(t *testing.T) {
	t.Parallel()
	c := &x509.Certificate{DNSNames: []string{omID}}
	if got := Identity(c); got != "dns:"+omID {
		t.Fatalf("identity %q of a DNS SAN spelling a URI, want it typed", got)
	}
}
