package auth

import (
	"bytes"
	"crypto/subtle"
	"fmt"
	"net/http"
	"strings"
)

// minTokenLen bounds how weak a shared token may be: 16 bytes, e.g. the
// output of `openssl rand -hex 16` (32 characters).
const minTokenLen = 16

// Token is a shared secret read from a file (surrounding white space
// trimmed) and read again when the file changes. It is never logged.
type Token struct{ r *reloader[[]byte] }

// LoadToken reads the token at path. WithLogger logs reloads and a token
// file others may read.
func LoadToken(path string, opts ...Option) (*Token, error) {
	r, err := newReloader("token", parseToken, newOptions(opts), watched{path: path, secret: true})
	if err != nil {
		return nil, err
	}
	return &Token{r: r}, nil
}

func parseToken(data [][]byte) ([]byte, error) {
	tok := bytes.TrimSpace(data[0])
	if len(tok) < minTokenLen {
		return nil, fmt.Errorf("%w: token file holds %d bytes, want at least %d", ErrConfig, len(tok), minTokenLen)
	}
	if bytes.ContainsAny(tok, " \t\r\n") {
		return nil, fmt.Errorf("%w: token holds white space", ErrConfig)
	}
	return tok, nil
}

// Check reports whether the Authorization header value h is "Bearer TOKEN"
// with this token, in time that does not depend on where they differ.
func (t *Token) Check(h string) bool {
	want := t.r.get()
	got, ok := strings.CutPrefix(h, "Bearer ")
	return ok && subtle.ConstantTimeCompare([]byte(got), want) == 1
}

// Bearer returns a RoundTripper that sends t as "Authorization: Bearer" on
// every request through base (http.DefaultTransport when nil).
func Bearer(base http.RoundTripper, t *Token) http.RoundTripper {
	if base == nil {
		base = http.DefaultTransport
	}
	return &bearer{base: base, token: t}
}

type bearer struct {
	base  http.RoundTripper
	token *Token
}

// CloseIdleConnections closes the idle connections of the wrapped
// transport, as http.Client.CloseIdleConnections expects of a transport.
func (b *bearer) CloseIdleConnections() { closeIdle(b.base) }

// closeIdle closes rt's idle connections, if it keeps any.
func closeIdle(rt http.RoundTripper) {
	if c, ok := rt.(interface{ CloseIdleConnections() }); ok {
		c.CloseIdleConnections()
	}
}

func (b *bearer) RoundTrip(req *http.Request) (*http.Response, error) {
	tok := b.token.r.get()
	req = req.Clone(req.Context())
	req.Header.Set("Authorization", "Bearer "+string(tok))
	return b.base.RoundTrip(req)
}
