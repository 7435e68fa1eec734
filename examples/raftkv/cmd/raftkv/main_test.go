package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// unreachable is a sidecar URL nothing listens on: these tests never snapshot.
const unreachable = "http://127.0.0.1:1"

// quietLog writes into tb.Log until the test ends.
type quietLog struct {
	tb   testing.TB
	mu   sync.Mutex
	done bool
}

func (w *quietLog) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.done {
		w.tb.Log(string(bytes.TrimRight(p, "\n")))
	}
	return len(p), nil
}

// startRun runs the command with args plus a temporary data dir and HTTP
// address file, and returns the HTTP API's base URL. The run stops, and
// must end cleanly, when the test ends.
func startRun(tb testing.TB, id string, args ...string) string {
	tb.Helper()
	dir := tb.TempDir()
	addrFile := filepath.Join(dir, "http.addr")
	args = append([]string{
		"--id", id, "--data", filepath.Join(dir, "data"), "--raft-addr", "127.0.0.1:0",
		"--http-addr", "127.0.0.1:0", "--http-addr-file", addrFile,
		"--sidecar-peer", unreachable, "--sidecar-local", unreachable,
	}, args...)
	ctx, cancel := context.WithCancel(context.Background())
	logw := &quietLog{tb: tb}
	done := make(chan error, 1)
	go func() { done <- run(ctx, args, io.Discard, logw) }()
	tb.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			tb.Errorf("run %s: %v", id, err)
		}
		logw.mu.Lock()
		logw.done = true
		logw.mu.Unlock()
	})
	deadline := time.Now().Add(20 * time.Second)
	for {
		b, err := os.ReadFile(addrFile)
		if err == nil {
			return "http://" + string(b)
		}
		select {
		case err := <-done:
			done <- err // for the cleanup
			tb.Fatalf("run %s ended: %v", id, err)
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			tb.Fatalf("run %s: no HTTP address after 20s", id)
		}
	}
}

// do makes one request and returns the status and body.
func do(tb testing.TB, method, url, body string) (int, string) {
	tb.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		tb.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		tb.Fatal(err)
	}
	defer resp.Body.Close() //nolint:errcheck // read to the end below.
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		tb.Fatal(err)
	}
	return resp.StatusCode, string(b)
}

// until polls the request until it answers want, or fails after 20s.
func until(tb testing.TB, method, url string, want int) string {
	tb.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		code, body := do(tb, method, url, "")
		if code == want {
			return body
		}
		if time.Now().After(deadline) {
			tb.Fatalf("%s %s: %d %s, want %d", method, url, code, body, want)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestRunTwoNodes(t *testing.T) {
	t.Parallel()
	a := startRun(t, "a")
	b := startRun(t, "b", "--join", a)

	// b's join is refused until a leads, then accepted; a write through the
	// leader reaches b.
	deadline := time.Now().Add(20 * time.Second)
	for {
		code, body := do(t, http.MethodPut, a+"/kv/greeting", "hello")
		if code == http.StatusNoContent {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("put: %d %s", code, body)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if got := until(t, http.MethodGet, b+"/kv/greeting", http.StatusOK); got != "hello" {
		t.Fatalf("b's greeting = %q", got)
	}
	if code, _ := do(t, http.MethodGet, a+"/kv/nothing", ""); code != http.StatusNotFound {
		t.Fatalf("missing key: %d, want 404", code)
	}
	if code, body := do(t, http.MethodPut, b+"/kv/k", "v"); code != http.StatusMisdirectedRequest ||
		!strings.Contains(body, "leader a") {
		t.Fatalf("put on the follower: %d %s, want 421 naming leader a", code, body)
	}
	if code, _ := do(t, http.MethodPost, a+"/join?id=x", ""); code != http.StatusBadRequest {
		t.Fatalf("join without addr: %d, want 400", code)
	}

	var st status
	if err := json.Unmarshal([]byte(until(t, http.MethodGet, b+"/status", http.StatusOK)), &st); err != nil {
		t.Fatal(err)
	}
	if st.ID != "b" || st.IsLeader || st.LeaderID != "a" || st.AppliedIndex == 0 || st.LastInstall != nil {
		t.Fatalf("b's status: %+v", st)
	}
}

func TestRunFlags(t *testing.T) {
	t.Parallel()
	testCases := []struct {
		name string
		args []string
		want error
	}{
		{"help", []string{"-h"}, flag.ErrHelp},
		{"unknown flag", []string{"--nope"}, errUsage},
		{"extra argument", []string{"--id", "a", "x"}, errUsage},
	}
	for _, tc := range testCases {
		var stderr bytes.Buffer
		if err := run(context.Background(), tc.args, io.Discard, &stderr); !errors.Is(err, tc.want) {
			t.Fatalf("%s: %v, want %v", tc.name, err, tc.want)
		}
	}
	// Valid flags, but no data dir or sidecar: the config is refused.
	err := run(context.Background(), []string{"--id", "a"}, io.Discard, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "DataDir is required") {
		t.Fatalf("no data dir: %v", err)
	}
}
