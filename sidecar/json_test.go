package sidecar

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"connectrpc.com/connect"

	"github.com/snapsync/snapsync/internal/testdb"
	"github.com/snapsync/snapsync/internal/testlog"
	"github.com/snapsync/snapsync/proto/gen/snapsync/v1/snapsyncv1connect"
	"github.com/snapsync/snapsync/server"
	"github.com/snapsync/snapsync/source/registry"
)

// postJSON posts body as Connect JSON to base+path and returns the status
// code and the decoded reply.
func postJSON(tb testing.TB, base, path string, body any) (int, map[string]any) {
	tb.Helper()
	b, err := json.Marshal(body)
	if err != nil {
		tb.Fatal(err)
	}
	resp, err := http.Post(base+path, "application/json", bytes.NewReader(b))
	if err != nil {
		tb.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		tb.Fatalf("%s: decode reply: %v", path, err)
	}
	return resp.StatusCode, out
}

// TestConnectJSON drives the local API as a client with no protobuf at all
// would: plain HTTP/1.1 POSTs of JSON for RegisterCheckpoint and Status, and
// a Connect client in JSON mode for the Prepare stream and Commit; the
// registered checkpoint is what the follower installs.
func TestConnectJSON(t *testing.T) {
	t.Parallel()
	ckRoot := t.TempDir()
	src, err := registry.New(registry.Config{Root: ckRoot, Engine: "pebble", Logger: testlog.Logger(t)})
	if err != nil {
		t.Fatal(err)
	}
	p := startPeer(t, server.Config{Source: src})
	l := startLocal(t, InstallConfig{}, NewRegistryService(src))
	ck := filepath.Join(ckRoot, "ck-77")
	if err := os.Rename(makeCheckpoint(t, 2<<20), ck); err != nil {
		t.Fatal(err)
	}
	code, reply := postJSON(t, l.url, "/snapsync.v1.RegistryService/RegisterCheckpoint",
		map[string]any{"dir": ck, "term": 5, "index": "77", "labels": map[string]string{"node": "om1"}})
	if code != http.StatusOK || reply["registered"] != 1.0 {
		t.Fatalf("register: %d %v", code, reply)
	}
	dest := filepath.Join(l.root, "db")
	code, reply = postJSON(t, l.url, "/snapsync.v1.InstallService/Status", map[string]any{"dest": dest})
	if state := reply["progress"].(map[string]any)["state"]; code != http.StatusOK || state != "INSTALL_STATE_IDLE" {
		t.Fatalf("status: %d %v", code, reply)
	}
	code, reply = postJSON(t, l.url, "/snapsync.v1.InstallService/Status", map[string]any{"dest": "relative"})
	if code != http.StatusBadRequest || reply["code"] != "invalid_argument" {
		t.Fatalf("status of a relative dest: %d %v", code, reply)
	}

	c := snapsyncv1connect.NewInstallServiceClient(http.DefaultClient, l.url, connect.WithProtoJSON())
	info := prepare(t, c, p.url, 70, dest)
	if info.GetTerm() != 5 || info.GetIndex() != 77 {
		t.Fatalf("prepared %v, want the registered term 5, index 77", info)
	}
	code, reply = postJSON(t, l.url, "/snapsync.v1.InstallService/Status", map[string]any{"dest": dest})
	if code != http.StatusOK || reply["prepared"].(map[string]any)["index"] != "77" {
		t.Fatalf("status after prepare: %d %v", code, reply)
	}
	commit(t, c, dest, info.GetSnapshotId())
	testdb.CheckSameDB(t, openDB(t, ck), dest)
}

// TestRegisterRefusals: a registered directory that is not a checkpoint, is
// not under the registry's root (directly or through a symlink) or is not
// newer than the registered one is refused with InvalidArgument, and the
// registered checkpoint is still served.
func TestRegisterRefusals(t *testing.T) {
	t.Parallel()
	ckRoot, outside := t.TempDir(), t.TempDir()
	src, err := registry.New(registry.Config{Root: ckRoot, Logger: testlog.Logger(t)})
	if err != nil {
		t.Fatal(err)
	}
	l := startLocal(t, InstallConfig{}, NewRegistryService(src))
	good := filepath.Join(ckRoot, "good")
	mkTree(t, good, map[string]string{"000001.sst": "data", "MANIFEST-000001": "m"})
	mkTree(t, filepath.Join(outside, "ck"), map[string]string{"000001.sst": "data"})
	mkTree(t, filepath.Join(ckRoot, "empty"), map[string]string{"sub/": ""})
	mkTree(t, filepath.Join(ckRoot, "older"), map[string]string{"000002.sst": "x", "MANIFEST-000002": "m"})
	mkTree(t, filepath.Join(ckRoot, "nodb"), map[string]string{"000003.sst": "x", "sub/notes.txt": "y"})
	mkTree(t, filepath.Join(ckRoot, "withlink"), map[string]string{"000001.sst": "data"})
	mustSymlink(t, "/etc/hostname", filepath.Join(ckRoot, "withlink", "000002.sst"))
	mustSymlink(t, filepath.Join(outside, "ck"), filepath.Join(ckRoot, "escape"))
	mkTree(t, ckRoot, map[string]string{"file": "not a dir"})
	if code, reply := postJSON(t, l.url, "/snapsync.v1.RegistryService/RegisterCheckpoint",
		map[string]any{"dir": good, "term": 1, "index": 100}); code != http.StatusOK {
		t.Fatalf("register: %d %v", code, reply)
	}
	testCases := []struct {
		name, dir string
		index     int
		text      string
	}{
		{"outside the root", filepath.Join(outside, "ck"), 200, "not under the allowed root"},
		{"symlink out of the root", filepath.Join(ckRoot, "escape"), 200, "not under the allowed root"},
		{"relative", "good", 200, "not an absolute path"},
		{"empty", "", 200, "not an absolute path"},
		{"missing", filepath.Join(ckRoot, "missing"), 200, "no such file"},
		{"a file", filepath.Join(ckRoot, "file"), 200, "not a directory"},
		{"no files", filepath.Join(ckRoot, "empty"), 200, "not a checkpoint"},
		{"no DB in it", filepath.Join(ckRoot, "nodb"), 200, "not a checkpoint: no MANIFEST"},
		{"holds a symlink", filepath.Join(ckRoot, "withlink"), 200, "not a directory or regular file"},
		{"not newer", filepath.Join(ckRoot, "older"), 100, "not beyond the registered 100"},
	}
	for _, tc := range testCases {
		t.Run(tc.name, func(t *testing.T) {
			code, reply := postJSON(t, l.url, "/snapsync.v1.RegistryService/RegisterCheckpoint",
				map[string]any{"dir": tc.dir, "term": 1, "index": tc.index})
			msg, _ := reply["message"].(string)
			if code != http.StatusBadRequest || reply["code"] != "invalid_argument" || !strings.Contains(msg, tc.text) {
				t.Fatalf("got %d %v, want 400 invalid_argument saying %q", code, reply, tc.text)
			}
		})
	}
	ck, err := src.Checkpoint(context.Background(), filepath.Join(t.TempDir(), "served"), 0)
	if err != nil || ck.Meta.Index != 100 {
		t.Fatalf("after refused registrations the source serves %+v, %v", ck.Meta, err)
	}
	if !exists(filepath.Join(good, "000001.sst")) {
		t.Fatal("a refused registration removed the registered checkpoint")
	}
}

// mkTree creates the files of tree (a path ending in "/" is a directory)
// below root.
func mkTree(tb testing.TB, root string, tree map[string]string) {
	tb.Helper()
	for rel, content := range tree {
		p := filepath.Join(root, rel)
		if strings.HasSuffix(rel, "/") {
			if err := os.MkdirAll(p, 0o755); err != nil {
				tb.Fatal(err)
			}
			continue
		}
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			tb.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			tb.Fatal(err)
		}
	}
}

func mustSymlink(tb testing.TB, target, link string) {
	tb.Helper()
	if err := os.Symlink(target, link); err != nil {
		tb.Fatal(err)
	}
}
