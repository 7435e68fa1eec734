package connlimit

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

// TestGate: a call the guard admits marks its connection authenticated,
// unless its path is exempt; any other response on a connection not
// authenticated closes it.
func TestGate(t *testing.T) {
	t.Parallel()
	guard := func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Header.Get("Authorization") != "ok" && r.URL.Path != "/health" {
				http.Error(w, "refused", http.StatusUnauthorized)
				return
			}
			h.ServeHTTP(w, r)
		})
	}
	ok := http.HandlerFunc(func(http.ResponseWriter, *http.Request) {})
	h := Gate(guard, func(p string) bool { return p == "/health" }, ok)
	testCases := []struct {
		name          string
		steps         []string // "refused", "health" or "admitted", in turn on one connection
		wantClose     string   // the last response's Connection header
		authenticated bool
	}{
		{"refused", []string{"refused"}, "close", false},
		{"exempt", []string{"health"}, "close", false},
		{"admitted", []string{"admitted"}, "", true},
		{"refused after admitted", []string{"admitted", "refused"}, "", true},
		{"exempt after admitted", []string{"admitted", "health"}, "", true},
	}
	for _, tc := range testCases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t, Config{Max: 4})
			_, srv := f.dial()
			ctx := ConnContext(t.Context(), srv)
			var rec *httptest.ResponseRecorder
			for _, step := range tc.steps {
				req := httptest.NewRequestWithContext(ctx, http.MethodPost, "/call", nil)
				switch step {
				case "health":
					req.URL.Path = "/health"
				case "admitted":
					req.Header.Set("Authorization", "ok")
				}
				rec = httptest.NewRecorder()
				h.ServeHTTP(rec, req)
			}
			if got := rec.Header().Get("Connection"); got != tc.wantClose {
				t.Errorf("Connection: %q, want %q", got, tc.wantClose)
			}
			if got := IsAuthenticated(ctx); got != tc.authenticated {
				t.Errorf("authenticated %v, want %v", got, tc.authenticated)
			}
		})
	}
}
