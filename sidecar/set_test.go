package sidecar

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"

	"connectrpc.com/connect"

	"github.com/snapsync/snapsync/client"
	"github.com/snapsync/snapsync/internal/testlog"
	"github.com/snapsync/snapsync/internal/testtree"
	snapsyncv1 "github.com/snapsync/snapsync/proto/gen/snapsync/v1"
	"github.com/snapsync/snapsync/proto/gen/snapsync/v1/snapsyncv1connect"
	"github.com/snapsync/snapsync/server"
	dirsource "github.com/snapsync/snapsync/source/dir"
	"github.com/snapsync/snapsync/verify"
)

// omList is what an OM replaces in its metadata directory.
var omList = []string{"om.db", "db.snapshots"}

// omCheckpoint makes the leader's checkpoint tree: a new om.db and two
// snapshot DBs below db.snapshots sharing its SSTs through hard links, plus
// the extra top-level entries given.
func omCheckpoint(tb testing.TB, extra ...string) string {
	tb.Helper()
	dir := filepath.Join(tb.TempDir(), "checkpoint")
	files := map[string]string{
		"om.db/CURRENT": "MANIFEST-000019\n", "om.db/MANIFEST-000019": "new manifest " + strings.Repeat("m", 500),
		"om.db/000012.sst": strings.Repeat("new sst 12 ", 30000), "om.db/000015.sst": strings.Repeat("new sst 15 ", 20000),
		"om.db/OPTIONS-000021":                                    "[Version]\n",
		"db.snapshots/checkpointState/om.db-9f1c/CURRENT":         "MANIFEST-000007\n",
		"db.snapshots/checkpointState/om.db-9f1c/MANIFEST-000007": "snap1 manifest",
		"db.snapshots/checkpointState/om.db-c2d4/CURRENT":         "MANIFEST-000011\n",
		"db.snapshots/checkpointState/om.db-c2d4/MANIFEST-000011": "snap2 manifest",
	}
	for _, e := range extra {
		files[e+"/data"] = "an entry the replace list does not name"
	}
	testtree.Write(tb, dir, files)
	testtree.Link(tb, dir, map[string]string{
		"db.snapshots/checkpointState/om.db-9f1c/000012.sst": "om.db/000012.sst",
		"db.snapshots/checkpointState/om.db-c2d4/000012.sst": "om.db/000012.sst",
		"db.snapshots/checkpointState/om.db-c2d4/000015.sst": "om.db/000015.sst",
	})
	return dir
}

// countingPeer is a leader sidecar that counts the FetchChunks calls made
// to it.
type countingPeer struct {
	url     string
	fetches atomic.Int64
}

func startCountingPeer(tb testing.TB, checkpoint string) *countingPeer {
	tb.Helper()
	src, err := dirsource.New(checkpoint, verify.Meta{Engine: "rocksdb", Term: 3, Index: 42, CreatedUnixNano: 1})
	if err != nil {
		tb.Fatal(err)
	}
	srv, err := server.New(context.Background(), server.Config{Source: src, WorkDir: filepath.Join(tb.TempDir(), "work"),
		ChunkSize: testChunkSize, Logger: testlog.Logger(tb)})
	if err != nil {
		tb.Fatal(err)
	}
	ln, err := Listen("127.0.0.1:0", true)
	if err != nil {
		tb.Fatal(err)
	}
	p := &countingPeer{url: "http://" + ln.Addr().String()}
	h := PeerHandler(srv.Handler())
	stop := serve(tb, ln, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == snapsyncv1connect.SnapshotServiceFetchChunksProcedure {
			p.fetches.Add(1)
		}
		h.ServeHTTP(w, r)
	}))
	tb.Cleanup(func() {
		if err := srv.Close(); err != nil {
			tb.Errorf("close server: %v", err)
		}
		stop()
	})
	return p
}

// omMetaDir makes an OM metadata directory below root with an old om.db and
// db.snapshots (linked) beside om/current/VERSION and a Ratis log, and
// returns a check that every path outside the list kept its inode and
// bytes.
func omMetaDir(tb testing.TB, root string) (string, func(testing.TB)) {
	tb.Helper()
	dir := filepath.Join(root, "meta")
	testtree.Write(tb, dir, map[string]string{
		"om/current/VERSION":             "nodeType=OM\nclusterID=CID-1\nomUuid=om-2\n",
		"ratis/group-1/current/log_0-41": strings.Repeat("raft ", 2000), "ratis/group-1/current/raft-meta": "term=3\n",
		"om.db/CURRENT": "MANIFEST-000004\n", "om.db/MANIFEST-000004": "old manifest", "om.db/000003.sst": strings.Repeat("old sst ", 5000),
		"db.snapshots/checkpointState/om.db-0a0a/CURRENT": "MANIFEST-000002\n",
	})
	testtree.Link(tb, dir, map[string]string{"db.snapshots/checkpointState/om.db-0a0a/000003.sst": "om.db/000003.sst"})
	before := outsideList(tb, dir)
	return dir, func(tb testing.TB) {
		tb.Helper()
		if after := outsideList(tb, dir); !maps.Equal(after, before) {
			tb.Fatalf("entries outside the list changed:\nbefore %v\nafter  %v", before, after)
		}
	}
}

// outsideList returns every path of dir outside the list (and the staging
// area) with its inode and, for a file, its content hash.
func outsideList(tb testing.TB, dir string) map[string]string {
	tb.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		if top := strings.SplitN(filepath.ToSlash(rel), "/", 2)[0]; slices.Contains(omList, top) || top == client.SetStagingName {
			return filepath.SkipDir
		}
		fi, err := os.Lstat(p)
		if err != nil {
			return err
		}
		out[filepath.ToSlash(rel)] = fmt.Sprintf("%v ino %d %s", fi.Mode(), fi.Sys().(*syscall.Stat_t).Ino, fileHash(tb, p, fi))
		return nil
	})
	if err != nil {
		tb.Fatal(err)
	}
	return out
}

func fileHash(tb testing.TB, p string, fi fs.FileInfo) string {
	if !fi.Mode().IsRegular() {
		return ""
	}
	b, err := os.ReadFile(p)
	if err != nil {
		tb.Fatal(err)
	}
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

// entryTree describes one entry of a set: each path below dir/name (dirs
// and files, with content hashes) and its hard-link groups.
func entryTree(tb testing.TB, dir, name string) string {
	tb.Helper()
	var lines []string
	byIno := map[uint64][]string{}
	root := filepath.Join(dir, name)
	if _, err := os.Lstat(root); errors.Is(err, fs.ErrNotExist) {
		return "(missing)"
	}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, err := os.Lstat(p)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		rel = filepath.ToSlash(rel)
		lines = append(lines, fmt.Sprintf("%s %v %s", rel, fi.Mode().Type(), fileHash(tb, p, fi)))
		if fi.Mode().IsRegular() {
			ino := fi.Sys().(*syscall.Stat_t).Ino
			byIno[ino] = append(byIno[ino], rel)
		}
		return nil
	})
	if err != nil {
		tb.Fatal(err)
	}
	for _, g := range byIno {
		if len(g) > 1 {
			slices.Sort(g)
			lines = append(lines, "link "+strings.Join(g, ","))
		}
	}
	slices.Sort(lines)
	return strings.Join(lines, "\n")
}

// setTrees returns entryTree of each listed entry.
func setTrees(tb testing.TB, dir string) [2]string {
	tb.Helper()
	return [2]string{entryTree(tb, dir, omList[0]), entryTree(tb, dir, omList[1])}
}

// prepareSet runs a whole Prepare with a replace list.
func prepareSet(c snapsyncv1connect.InstallServiceClient, source, dest string, replace []string) (*snapsyncv1.SnapshotInfo, error) {
	s, err := c.Prepare(context.Background(), connect.NewRequest(&snapsyncv1.PrepareRequest{
		SourceUrl: source, MinIndex: 42, Dest: dest, Replace: replace}))
	if err != nil {
		return nil, err
	}
	defer s.Close()
	var info *snapsyncv1.SnapshotInfo
	for s.Receive() {
		if p := s.Msg().GetPrepared(); p != nil {
			info = p
		}
	}
	if err := s.Err(); err != nil {
		return nil, err
	}
	if info == nil {
		return nil, errors.New("stream ended without a prepared snapshot")
	}
	return info, nil
}

func commitSet(c snapsyncv1connect.InstallServiceClient, dest string, id []byte, replace []string) (*snapsyncv1.CommitResponse, error) {
	resp, err := c.Commit(context.Background(), connect.NewRequest(&snapsyncv1.CommitRequest{Dest: dest, SnapshotId: id, Replace: replace}))
	if err != nil {
		return nil, err
	}
	return resp.Msg, nil
}

// TestSetPrepareCommit: Prepare with replace [om.db, db.snapshots], then
// Commit (repeating the list) installs exactly the leader's om.db and
// db.snapshots, hard links included; om/ and ratis/ keep their inodes and
// bytes, and the staging area inside dest is gone.
func TestSetPrepareCommit(t *testing.T) {
	t.Parallel()
	ckpt := omCheckpoint(t)
	p := startCountingPeer(t, ckpt)
	l := startLocal(t, InstallConfig{}, nil)
	dest, untouched := omMetaDir(t, l.root)
	want := setTrees(t, ckpt)

	info, err := prepareSet(l.client, p.url, dest, omList)
	if err != nil {
		t.Fatalf("prepare: %v", err)
	}
	if info.GetIndex() != 42 {
		t.Fatalf("prepared %v", info)
	}
	if st := status(t, l.client, dest); st.GetProgress().GetState() != snapsyncv1.InstallState_INSTALL_STATE_PREPARED {
		t.Fatalf("status after prepare: %v", st)
	}
	if got := setTrees(t, dest); got == want {
		t.Fatal("the set changed before Commit")
	}
	untouched(t)
	resp, err := commitSet(l.client, dest, info.GetSnapshotId(), omList)
	if err != nil {
		t.Fatalf("commit: %v", err)
	}
	if resp.GetSnapshot().GetIndex() != 42 || resp.GetSnapshot().GetTerm() != 3 {
		t.Fatalf("commit returned %v", resp.GetSnapshot())
	}
	if got := setTrees(t, dest); got != want {
		t.Fatalf("installed set:\n%s\n%s\nwant:\n%s\n%s", got[0], got[1], want[0], want[1])
	}
	untouched(t)
	if exists(filepath.Join(dest, client.SetStagingName)) {
		t.Fatal("staging area left in dest")
	}
	if st := status(t, l.client, dest); st.GetProgress().GetState() != snapsyncv1.InstallState_INSTALL_STATE_IDLE {
		t.Fatalf("status after commit: %v", st)
	}
}

// TestSetCommitOtherList: a Commit naming another list than the Prepare's
// is refused FAILED_PRECONDITION and changes nothing; the snapshot stays
// prepared, and a Commit without a list (the prepared one) installs it.
func TestSetCommitOtherList(t *testing.T) {
	t.Parallel()
	ckpt := omCheckpoint(t)
	p := startCountingPeer(t, ckpt)
	l := startLocal(t, InstallConfig{}, nil)
	dest, untouched := omMetaDir(t, l.root)
	old := setTrees(t, dest)
	info, err := prepareSet(l.client, p.url, dest, omList)
	if err != nil {
		t.Fatalf("prepare: %v", err)
	}
	for _, other := range [][]string{{"om.db"}, {"om.db", "db.snapshots", "ratis"}} {
		_, err := commitSet(l.client, dest, info.GetSnapshotId(), other)
		wantError(t, err, connect.CodeFailedPrecondition, "prepared with")
		if got := setTrees(t, dest); got != old {
			t.Fatalf("a refused Commit naming %v changed the set", other)
		}
		untouched(t)
		if st := status(t, l.client, dest); st.GetProgress().GetState() != snapsyncv1.InstallState_INSTALL_STATE_PREPARED {
			t.Fatalf("status after a refused Commit naming %v: %v", other, st)
		}
	}
	if _, err := commitSet(l.client, dest, info.GetSnapshotId(), nil); err != nil {
		t.Fatalf("commit with the prepared list: %v", err)
	}
	if got, want := setTrees(t, dest), setTrees(t, ckpt); got != want {
		t.Fatal("installed set differs from the leader's")
	}
	untouched(t)
}

// TestSetPrepareOutsideList: a snapshot with a top-level entry the list
// does not name is refused INVALID_ARGUMENT naming it, before any chunk is
// fetched, and dest's entries are unchanged. (The manifest is fetched and
// kept: dest/.snapsync-replace stays, with it and a state, but nothing
// staged.)
func TestSetPrepareOutsideList(t *testing.T) {
	t.Parallel()
	p := startCountingPeer(t, omCheckpoint(t, "om.db.backup"))
	l := startLocal(t, InstallConfig{}, nil)
	dest, untouched := omMetaDir(t, l.root)
	old := setTrees(t, dest)
	_, err := prepareSet(l.client, p.url, dest, omList)
	wantError(t, err, connect.CodeInvalidArgument, "om.db.backup")
	if n := p.fetches.Load(); n != 0 {
		t.Fatalf("%d FetchChunks calls for a snapshot refused before fetching", n)
	}
	if got := setTrees(t, dest); got != old {
		t.Fatal("the set changed")
	}
	untouched(t)
	if st := status(t, l.client, dest); st.GetProgress().GetState() != snapsyncv1.InstallState_INSTALL_STATE_FAILED ||
		!strings.Contains(st.GetError(), "om.db.backup") {
		t.Fatalf("status after the refused Prepare: %v", st)
	}
	if area := filepath.Join(dest, client.SetStagingName, "stage"); exists(area) {
		n := 0
		_ = filepath.WalkDir(area, func(_ string, d fs.DirEntry, err error) error {
			if err == nil && d.Type().IsRegular() {
				n++
			}
			return nil
		})
		if n > 0 {
			t.Fatalf("%d files staged for a refused snapshot", n)
		}
	}
}

// TestSetAbortAfterInterruptedSwap: a Commit interrupted after its first
// entry moved (om.db new, db.snapshots old: the journal records the mix)
// fails; Abort{keep_staging} (the node's start-up call, without the list)
// rolls the set back whole; a Prepare then finds the snapshot still staged
// (no chunk fetched again) and a Commit installs the new set.
func TestSetAbortAfterInterruptedSwap(t *testing.T) {
	t.Parallel()
	ckpt := omCheckpoint(t)
	p := startCountingPeer(t, ckpt)
	var fired atomic.Bool
	injected := errors.New("injected: crash after the first entry moved")
	hook := func(point string) error {
		if point == "entry-moved" && fired.CompareAndSwap(false, true) {
			return injected
		}
		return nil
	}
	l := startLocal(t, InstallConfig{Client: client.Config{Hook: hook}}, nil)
	dest, untouched := omMetaDir(t, l.root)
	old, want := setTrees(t, dest), setTrees(t, ckpt)

	info, err := prepareSet(l.client, p.url, dest, omList)
	if err != nil {
		t.Fatalf("prepare: %v", err)
	}
	fetched := p.fetches.Load()
	if fetched == 0 {
		t.Fatal("the first Prepare fetched nothing")
	}
	if _, err := commitSet(l.client, dest, info.GetSnapshotId(), omList); err == nil || !strings.Contains(err.Error(), "injected") {
		t.Fatalf("commit: %v, want the injected error", err)
	}
	if !fired.Load() {
		t.Fatal("the hook never fired at entry-moved")
	}
	if got := setTrees(t, dest); got[0] != want[0] || got[1] != old[1] {
		t.Fatalf("after the interrupted swap want om.db new and db.snapshots old; om.db new %v, db.snapshots old %v",
			got[0] == want[0], got[1] == old[1])
	}
	untouched(t)

	if _, err := l.client.Abort(context.Background(), connect.NewRequest(&snapsyncv1.AbortRequest{Dest: dest, KeepStaging: true})); err != nil {
		t.Fatalf("abort: %v", err)
	}
	if got := setTrees(t, dest); got != old {
		t.Fatalf("after Abort{keep_staging} the set is not the old one:\n%s\n%s", got[0], got[1])
	}
	untouched(t)
	if !exists(filepath.Join(dest, client.SetStagingName, "stage")) {
		t.Fatal("Abort{keep_staging} dropped what was staged")
	}

	info2, err := prepareSet(l.client, p.url, dest, omList)
	if err != nil {
		t.Fatalf("prepare after abort: %v", err)
	}
	if string(info2.GetSnapshotId()) != string(info.GetSnapshotId()) {
		t.Fatalf("prepared %x after abort, want %x", info2.GetSnapshotId(), info.GetSnapshotId())
	}
	if n := p.fetches.Load(); n != fetched {
		t.Fatalf("the Prepare after Abort{keep_staging} fetched again (%d FetchChunks calls, %d before)", n, fetched)
	}
	if _, err := commitSet(l.client, dest, info2.GetSnapshotId(), omList); err != nil {
		t.Fatalf("commit after abort: %v", err)
	}
	if got := setTrees(t, dest); got != want {
		t.Fatalf("installed set:\n%s\n%s\nwant:\n%s\n%s", got[0], got[1], want[0], want[1])
	}
	untouched(t)
	if exists(filepath.Join(dest, client.SetStagingName)) {
		t.Fatal("staging area left in dest")
	}
}

// TestSetIntoAllowedRoot: the OM's metadata directory may itself be the
// --allow-dest root (as in deploy/kubernetes): a set install replaces entries
// below it, never the root, while a whole-directory install of the root is
// still refused.
func TestSetIntoAllowedRoot(t *testing.T) {
	t.Parallel()
	ckpt := omCheckpoint(t)
	p := startCountingPeer(t, ckpt)
	dest, untouched := omMetaDir(t, t.TempDir())
	l := startLocal(t, InstallConfig{AllowedRoots: []string{dest}}, nil)
	if _, err := prepareSet(l.client, p.url, dest, nil); connect.CodeOf(err) != connect.CodePermissionDenied {
		t.Fatalf("a whole-directory Prepare of the root: %v, want PERMISSION_DENIED", err)
	}
	info, err := prepareSet(l.client, p.url, dest, omList)
	if err != nil {
		t.Fatalf("prepare: %v", err)
	}
	if _, err := commitSet(l.client, dest, info.GetSnapshotId(), omList); err != nil {
		t.Fatalf("commit: %v", err)
	}
	if got, want := setTrees(t, dest), setTrees(t, ckpt); got != want {
		t.Fatal("the set was not installed")
	}
	untouched(t)
}
