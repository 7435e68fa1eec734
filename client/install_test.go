package client

import (
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/snapsync/snapsync/internal/testdb"
	"github.com/snapsync/snapsync/internal/testtree"
	"github.com/snapsync/snapsync/server"
	"github.com/snapsync/snapsync/verify"
)

func TestInstallIntoEmptyDest(t *testing.T) {
	t.Parallel()
	leader := openLeader(t, 4<<20)
	ts := startServer(t, server.Config{Source: leader}, "")
	parent := t.TempDir()
	dest := filepath.Join(parent, "db")
	res, err := Install(context.Background(), ts.url, 0, testConfig(t, dest))
	if err != nil {
		t.Fatal(err)
	}
	testdb.CheckSameDB(t, leader.DB(), dest)
	if res.SnapshotID.IsZero() || res.Files == 0 || res.BytesTotal < 2<<20 {
		t.Fatalf("result %+v", res)
	}
	if res.BytesReused != 0 || res.BytesFetched == 0 {
		t.Fatalf("into an empty dest: fetched %d, reused %d", res.BytesFetched, res.BytesReused)
	}
	if got := testtree.Names(t, parent); !slices.Equal(got, []string{".snapsync-db.digests", "db"}) {
		t.Fatalf("parent holds %v, want only db and its digest cache", got)
	}
}

func TestInstallOverOlderCopyFetchesLittle(t *testing.T) {
	t.Parallel()
	leader := openLeader(t, 16<<20)
	ts := startServer(t, server.Config{Source: leader}, "")
	dest := filepath.Join(t.TempDir(), "db")
	first, err := Install(context.Background(), ts.url, 0, testConfig(t, dest))
	if err != nil {
		t.Fatal(err)
	}
	before := readTree(t, dest)
	writeData(t, leader, 2, 800<<10) // 5% new data
	res, err := Install(context.Background(), ts.url, 0, testConfig(t, dest))
	if err != nil {
		t.Fatal(err)
	}
	testdb.CheckSameDB(t, leader.DB(), dest)
	var common int64 // content the old copy already held
	for name, content := range readTree(t, dest) {
		if before[name] == content && !strings.HasPrefix(content, "<") {
			common += int64(len(content))
		}
	}
	t.Logf("first: fetched %d; second: total %d, already held %d, fetched %d, reused %d",
		first.BytesFetched, res.BytesTotal, common, res.BytesFetched, res.BytesReused)
	if res.SnapshotID == first.SnapshotID {
		t.Fatal("second install got the same snapshot")
	}
	if common < res.BytesTotal/2 {
		t.Fatalf("the leader rewrote its files: only %d of %d bytes in common", common, res.BytesTotal)
	}
	if res.BytesReused < common || res.BytesFetched > res.BytesTotal-common {
		t.Fatalf("fetched %d, reused %d of %d bytes, %d of them held locally", res.BytesFetched, res.BytesReused, res.BytesTotal, common)
	}
}

func TestInstallChecksAgainstManifest(t *testing.T) {
	t.Parallel()
	leader := openLeader(t, 4<<20)
	ts := startServer(t, server.Config{Source: leader}, "")
	dest := filepath.Join(t.TempDir(), "db")
	cfg := testConfig(t, dest)
	p, err := Prepare(context.Background(), ts.url, 0, cfg)
	if err != nil {
		t.Fatal(err)
	}
	cfg.EnsureDefaults()
	l := newLayout(&cfg)
	m, err := readManifest(l, p.SnapshotID)
	if err != nil {
		t.Fatal(err)
	}
	if err := verify.CheckDir(context.Background(), l.stage, m, 2); err != nil {
		t.Fatalf("staged tree does not match its manifest: %v", err)
	}
	if _, err := os.Stat(dest); !os.IsNotExist(err) {
		t.Fatalf("Prepare touched dest: %v", err)
	}
}

// TestFailedInstallLeavesNoTrace: an install that never reaches a server
// fails with ErrUnavailable and leaves no staging area beside Dest.
func TestFailedInstallLeavesNoTrace(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	url := "http://" + ln.Addr().String()
	if err := ln.Close(); err != nil { // nothing listens there now
		t.Fatal(err)
	}
	parent := t.TempDir()
	cfg := testConfig(t, filepath.Join(parent, "db"))
	cfg.MaxAttempts = 2
	if _, err := Install(context.Background(), url, 0, cfg); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("got %v, want ErrUnavailable", err)
	}
	if got := testtree.Names(t, parent); len(got) != 0 {
		t.Fatalf("parent holds %v after a failed install, want nothing", got)
	}
}

// TestBadSourceURL: a base URL that could never reach a sidecar is a config
// error at once, not something to retry.
func TestBadSourceURL(t *testing.T) {
	t.Parallel()
	for _, from := range []string{"127.0.0.1:7600", "leader:7600", "ftp://leader:7600", "http://", "", "http//leader"} {
		parent := t.TempDir()
		_, err := Install(context.Background(), from, 0, testConfig(t, filepath.Join(parent, "db")))
		if !errors.Is(err, ErrConfig) {
			t.Errorf("Install from %q: %v, want ErrConfig", from, err)
		}
		if got := testtree.Names(t, parent); len(got) != 0 {
			t.Errorf("Install from %q left %v", from, got)
		}
	}
}
