package client

import (
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"

	"github.com/snapsync/snapsync/internal/durable"
	"github.com/snapsync/snapsync/internal/testlog"
	"github.com/snapsync/snapsync/server"
	dirsource "github.com/snapsync/snapsync/source/dir"
	"github.com/snapsync/snapsync/verify"
)

// TestEmptyFilesDurableByDirectory installs empty files beside a file with
// data and checks, through the logging FS, what makes each durable
// (docs/DESIGN.md, "Durability of the staged tree"): an empty file created
// with its final mode is never fsynced itself, and its directory is fsynced
// after its creation; an empty file whose mode the umask cut is given its
// mode and fsynced; the file with data is fsynced. The installed modes are
// the manifest's. Not parallel: it sets the process's umask.
func TestEmptyFilesDurableByDirectory(t *testing.T) {
	old := syscall.Umask(0o022)
	t.Cleanup(func() { syscall.Umask(old) })
	src := filepath.Join(t.TempDir(), "checkpoint")
	files := []struct {
		path string
		data string
		mode fs.FileMode
	}{
		{"a/data", "some bytes", 0o644},
		{"a/empty", "", 0o644},
		{"a/readonly", "", 0o400},
		{"a/umasked", "", 0o664}, // the umask takes g+w off at creation
		{"top", "", 0o600},
	}
	for _, f := range files {
		p := filepath.Join(src, filepath.FromSlash(f.path))
		mkdirAll(t, filepath.Dir(p))
		if err := os.WriteFile(p, []byte(f.data), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, f.mode); err != nil {
			t.Fatal(err)
		}
	}
	dsrc, err := dirsource.New(src, verify.Meta{})
	if err != nil {
		t.Fatal(err)
	}
	ts := startServer(t, server.Config{Source: dsrc}, "")
	base := t.TempDir()
	dest := filepath.Join(base, "db")
	var log testlog.Buffer
	cfg := testConfig(t, dest)
	cfg.FileModeMask = 0o002 // keeps g+w, which the umask takes off
	cfg.wrapFS = func(fsys durable.StageFS) durable.StageFS { return durable.WithLogging(fsys, &log, base) }
	if _, err := Install(context.Background(), ts.url, 0, cfg); err != nil {
		t.Fatal(err)
	}
	ops := strings.Split(log.String(), "\n")
	at := func(line string) int { return slices.Index(ops, line) }
	stage := ".snapsync-db/stage/"
	for _, f := range files {
		created, synced := at("create "+stage+f.path), at("sync "+stage+f.path)
		dir := strings.TrimSuffix(filepath.Dir(stage+f.path), "/")
		dirSynced := at("sync-dir " + dir)
		switch {
		case created < 0:
			t.Errorf("%s: not created: %q", f.path, ops)
		case (f.data != "" || f.path == "a/umasked") != (synced >= 0):
			t.Errorf("%s: fsynced at op %d", f.path, synced)
		case dirSynced < created:
			t.Errorf("%s: created at op %d, its directory fsynced at op %d", f.path, created, dirSynced)
		}
		info, err := os.Stat(filepath.Join(dest, filepath.FromSlash(f.path)))
		if err != nil {
			t.Fatal(err)
		}
		if info.Mode().Perm() != f.mode {
			t.Errorf("%s: mode %v, want %v", f.path, info.Mode().Perm(), f.mode)
		}
	}
}
