//go:build linux

package sidecar

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"testing"

	"connectrpc.com/connect"

	"github.com/snapsync/snapsync/client"
	snapsyncv1 "github.com/snapsync/snapsync/proto/gen/snapsync/v1"
	"github.com/snapsync/snapsync/server"
)

// TestRecordOutsideAllowDest: uid 65534 may write a directory between the
// allowed root and dest's parent, and swaps dest's parent for a symlink to
// a directory outside --allow-dest while a Prepare runs. Neither the
// sidecar's record (sidecar.json) nor anything else is written there, by
// this service or by one restarted after the swap; Commit does not swap
// through the symlink; and the old DB, where it was moved, is unchanged.
func TestRecordOutsideAllowDest(t *testing.T) {
	if os.Getuid() != 0 {
		t.Skip("needs root to run the attacker under another uid")
	}
	t.Parallel()
	base := t.TempDir()
	for _, d := range []string{filepath.Dir(base), base} { // uid 65534 must reach the shared directory
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	root, outside := filepath.Join(base, "allowed"), filepath.Join(base, "outside")
	shared := filepath.Join(root, "shared") // the attacker's to write
	parent := filepath.Join(shared, "om")
	dest := filepath.Join(parent, "db")
	mkTree(t, base, map[string]string{"allowed/shared/om/db/CURRENT": "old\n", "allowed/shared/om/db/000001.sst": "old table",
		"outside/000009.sst": "not the sidecar's to touch"})
	if err := os.Chmod(shared, 0o777); err != nil {
		t.Fatal(err)
	}
	oldDB, outsideBefore := snapshotTree(t, dest), snapshotTree(t, outside)
	moved := parent + ".moved"

	p := startPeer(t, server.Config{Source: dirSource(t, makeCheckpoint(t, 1<<20), 3)})
	var once sync.Once
	swap := func(point string) error {
		if point == "staged" {
			once.Do(func() { runAsNobody(t, fmt.Sprintf("mv %s %s && ln -s %s %s", parent, moved, outside, parent)) })
		}
		return nil
	}
	cfg := InstallConfig{AllowedRoots: []string{root}, Client: client.Config{Hook: swap}}
	l := startLocal(t, cfg, nil)
	info, err := startPrepare(t, l.client, p.url, 0, dest).finish()
	t.Logf("prepare: %v, %v", info.GetSnapshotId(), err)
	if fi, err := os.Lstat(parent); err != nil || fi.Mode().Type() != fs.ModeSymlink {
		t.Fatal("the swap did not happen")
	}
	checkUnchanged(t, outside, outsideBefore)
	if err == nil {
		_, err = l.client.Commit(context.Background(), connect.NewRequest(&snapsyncv1.CommitRequest{Dest: dest, SnapshotId: info.GetSnapshotId()}))
		t.Logf("commit: %v", err)
	}
	checkUnchanged(t, outside, outsideBefore)

	// A service restarted after the swap finds no record through it.
	again := startLocal(t, cfg, nil)
	if st, err := again.client.Status(context.Background(), connect.NewRequest(&snapsyncv1.StatusRequest{Dest: dest})); err == nil {
		t.Logf("status after a restart: %v %s", st.Msg.GetProgress().GetState(), st.Msg.GetError())
	} else {
		t.Logf("status after a restart: %v", err)
	}
	if info != nil {
		_, err = again.client.Commit(context.Background(), connect.NewRequest(&snapsyncv1.CommitRequest{Dest: dest, SnapshotId: info.GetSnapshotId()}))
		t.Logf("commit after a restart: %v", err)
	}
	checkUnchanged(t, outside, outsideBefore)
	checkUnchanged(t, filepath.Join(moved, "db"), oldDB)
}

// runAsNobody runs a shell script as uid and gid 65534.
func runAsNobody(tb testing.TB, script string) {
	tb.Helper()
	cmd := exec.Command("/bin/sh", "-ec", script)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	if out, err := cmd.CombinedOutput(); err != nil {
		tb.Errorf("script as uid 65534: %v: %s", err, out)
	}
}

// snapshotTree describes every entry below dir: type, mode and content.
func snapshotTree(tb testing.TB, dir string) map[string]string {
	tb.Helper()
	out := make(map[string]string)
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		out[rel] = fi.Mode().String()
		if d.Type().IsRegular() {
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			out[rel] += " " + string(b)
		}
		return nil
	})
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		tb.Fatal(err)
	}
	return out
}

// checkUnchanged fails unless dir is as snapshotTree described it.
func checkUnchanged(tb testing.TB, dir string, before map[string]string) {
	tb.Helper()
	after := snapshotTree(tb, dir)
	for rel, v := range after {
		if before[rel] != v {
			tb.Errorf("%s: %s is now %q, was %q", dir, rel, v, before[rel])
		}
	}
	for rel := range before {
		if _, ok := after[rel]; !ok {
			tb.Errorf("%s: %s is gone", dir, rel)
		}
	}
}
