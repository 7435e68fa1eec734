package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestSecretFileWarning: a token file others may read is named, with its
// owner and mode, in a warning at start-up; the command goes on.
func TestSecretFileWarning(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	token := filepath.Join(dir, "token")
	if err := os.WriteFile(token, []byte("peer-token-0123456789abcdef"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(token, 0o644); err != nil {
		t.Fatal(err)
	}
	var out, errOut bytes.Buffer
	// The staging directory is refused once the flags are read: the
	// install fails without touching the network.
	err := run(context.Background(), []string{"install", "--from", "http://127.0.0.1:1", "--dest", filepath.Join(dir, "a", "db"),
		"--staging-dir", filepath.Join(dir, "b", ".staging"), "--token-file", token, "--log-format", "json"}, &out, &errOut)
	if err == nil || !strings.Contains(err.Error(), "Dest's parent") {
		t.Fatalf("err %v, want the install's own failure, not a refusal of the token file", err)
	}
	logs := errOut.String()
	for _, want := range []string{`"level":"warn"`, `"file":"` + token + `"`, `"mode":"0644"`, `"owner":`} {
		if !strings.Contains(logs, want) {
			t.Fatalf("stderr lacks %s:\n%s", want, logs)
		}
	}
	if strings.Contains(logs, "peer-token-0123456789abcdef") {
		t.Fatalf("the token reached the log:\n%s", logs)
	}
}
