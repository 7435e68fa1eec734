package auth

import (
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/snapsync/snapsync/internal/testlog"
)

// TestRefusalAuditPaced: a flood of refused calls logs at most auditBurst
// lines a second in full, then one line counting the rest, so the log
// cannot be flooded through the guard.
func TestRefusalAuditPaced(t *testing.T) {
	t.Parallel()
	var buf testlog.Buffer
	now := time.Unix(1000, 0)
	path := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(path, []byte(strings.Repeat("s", 32)), 0o600); err != nil {
		t.Fatal(err)
	}
	tok, err := LoadToken(path)
	if err != nil {
		t.Fatal(err)
	}
	g := &Guard{Token: tok, Log: zerolog.New(&buf), Now: func() time.Time { return now }}
	h := g.Wrap(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { t.Error("a refused call got through") }))
	call := func() {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/snapsync.v1.SnapshotService/Probe", nil))
		if rec.Code != http.StatusUnauthorized {
			t.Fatalf("refusal status %d", rec.Code)
		}
	}
	for range 500 {
		call()
	}
	if got := strings.Count(buf.String(), `"message":"call refused"`); got != auditBurst {
		t.Fatalf("%d refusal lines in the first second, want %d", got, auditBurst)
	}
	now = now.Add(time.Second)
	call()
	if !strings.Contains(buf.String(), `"not_logged":480`) {
		t.Fatalf("no line counts the 480 refusals held back:\n%s", buf.String())
	}
	if got := strings.Count(buf.String(), `"message":"call refused"`); got != auditBurst+1 {
		t.Fatalf("%d refusal lines after the second, want %d", got, auditBurst+1)
	}
}
