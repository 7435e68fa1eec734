package main

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"
)

func TestCommandLines(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		args    []string
		wantOut string // substring of stdout
		wantErr string // substring of the error; "" for none
	}{
		{"version", []string{"version"}, "snapsync", ""},
		{"root help", []string{"--help"}, "install", ""},
		{"serve help", []string{"serve", "--help"}, "--source", ""},
		{"install help", []string{"install", "--help"}, "--dest", ""},
		{"demo help", []string{"demo", "--help"}, "--size", ""},
		{"install without flags", []string{"install"}, "", `required flag(s) "dest", "from" not set`},
		{"install staging outside dest's parent", []string{"install", "--from", "http://127.0.0.1:1", "--dest", "/nonexistent/a/db", "--staging-dir", "/nonexistent/b/.staging"}, "", "must be another entry of Dest's parent"},
		{"install staging inside dest", []string{"install", "--from", "http://127.0.0.1:1", "--dest", "/nonexistent/a/db", "--staging-dir", "/nonexistent/a/db/.staging"}, "", "must be another entry of Dest's parent"},
		{"install bad compression", []string{"install", "--from", "http://127.0.0.1:1", "--dest", "/nonexistent/x", "--compression", "lz4"}, "", "--compression"},
		{"serve without source", []string{"serve"}, "", "--source"},
		{"serve unknown source", []string{"serve", "--source", "mysql:/x"}, "", "mysql"},
		{"serve a missing pebble DB", []string{"serve", "--source", "pebble:/nonexistent/db", "--listen", "127.0.0.1:0"}, "", "no such file"},
		{"exec source without work dir", []string{"serve", "--source", "exec:/bin/true"}, "", "needs --work-dir"},
		{"allow-dest without local listener", []string{"serve", "--source", "dir:/nonexistent", "--allow-dest", "/tmp"}, "", "needs --local-listen"},
		{"install allow-peer URI written bare", []string{"install", "--from", "https://127.0.0.1:1", "--dest", "/nonexistent/x", "--allow-peer", "https://om-1/x"}, "", "uri:https://om-1/x"},
		{"install allow-peer DNS SAN spelling a URI", []string{"install", "--from", "https://127.0.0.1:1", "--dest", "/nonexistent/x", "--allow-peer", "dns:spiffe://cluster/sa/om"}, "", "--allow-peer"},
		{"serve allow-peer of unknown type", []string{"serve", "--source", "dir:/nonexistent", "--allow-peer", "ip:10.0.0.1"}, "", `"ip:10.0.0.1"`},
		{"bad log level", []string{"install", "--from", "http://127.0.0.1:1", "--dest", "/nonexistent/x", "--log-level", "loud"}, "", "--log-level"},
		{"unknown command", []string{"frobnicate"}, "", "unknown command"},
		{"backup key file help", []string{"backup", "--help"}, "--key-file", ""},
		{"restore key file help", []string{"restore", "--help"}, "--key-file", ""},
		{"verify key file help", []string{"verify", "--help"}, "--key-file", ""},
		{"list key file help", []string{"list", "--help"}, "--key-file", ""},
		{"prune key file help", []string{"prune", "--help"}, "--key-file", ""},
		{"serve repo key file help", []string{"serve", "--help"}, "--repo-key-file", ""},
		{"rotate-key without keys", []string{"repo", "rotate-key", "/nonexistent/repo"}, "", `required flag(s) "key-file", "new-key-file" not set`},
		{"key file missing", []string{"list", "/nonexistent/repo", "--key-file", "/nonexistent/key"}, "", "--key-file: repo: key file"},
		{"repo key file without a repo source", []string{"serve", "--source", "dir:/nonexistent", "--repo-key-file", "/k"}, "", "--repo-key-file needs a repo: source"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var out, errOut bytes.Buffer
			err := run(context.Background(), tt.args, &out, &errOut)
			switch {
			case tt.wantErr == "" && err != nil:
				t.Fatalf("unexpected error: %v", err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Fatalf("error %v, want one containing %q", err, tt.wantErr)
			}
			if !strings.Contains(out.String(), tt.wantOut) {
				t.Fatalf("stdout %q, want it to contain %q", out.String(), tt.wantOut)
			}
		})
	}
}

// TestDemo runs the README's main job on a small DB and checks its figures,
// not its titles: the first install must stop part-way, the second must
// resume from what the first staged, and the incremental install must fetch
// only a fraction of a full one. Both installs are verified key by key.
func TestDemo(t *testing.T) {
	t.Parallel()
	var out, story bytes.Buffer
	if err := run(context.Background(), []string{"demo", "--size", "8MiB", "--json", "--dir", t.TempDir()}, &out, &story); err != nil {
		t.Fatalf("demo: %v\nstdout:\n%s\nstderr:\n%s", err, out.String(), story.String())
	}
	t.Logf("demo --json: %s", out.String())
	var r demoReport
	dec := json.NewDecoder(&out)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&r); err != nil {
		t.Fatalf("decode demo --json: %v", err)
	}
	stop, res, inc := r.Interrupted, r.Resumed, r.Incremental
	// The checks of what an install fetched count chunk bytes (the tree
	// less what was reused), not wire bytes: the server compresses a stream
	// or not by what it has learnt of the link (server/peermemory.go), so on
	// loopback the first installs of a run go compressed and later ones raw.
	// A full install from nothing fetches the whole tree.
	full := res.BytesTotal
	fetched := func(o installOutput) int64 { return o.BytesTotal - o.BytesReused }
	checks := []struct {
		ok   bool
		what string
	}{
		{stop.Stopped, "the first install was not interrupted"},
		{stop.BytesStaged > 0 && stop.BytesStaged < stop.BytesTotal, "the first install did not stop part-way (0 < staged < total)"},
		{stop.BytesFetched > 0, "the first install fetched nothing before it stopped"},
		{res.BytesTotal == stop.BytesTotal, "the resumed install is not of the same snapshot"},
		{res.BytesFetched > 0, "the resumed install fetched nothing"},
		{res.BytesReused >= res.BytesTotal/4, "the resumed install reused less than a quarter of the tree: it did not resume"},
		{fetched(res.installOutput) <= full*3/4, "the resumed install fetched more than 3/4 of a full install"},
		{inc.BytesFetched > 0, "the incremental install fetched nothing"},
		{inc.BytesReused >= inc.BytesTotal/4, "the incremental install reused less than a quarter of the tree"},
		{fetched(inc.installOutput) < full/2, "the incremental install fetched half a full install or more"},
		{res.KeysVerified > 0 && inc.KeysVerified > res.KeysVerified, "the installs were not verified key by key, or the leader's new keys are missing"},
	}
	for _, c := range checks {
		if !c.ok {
			t.Errorf("%s: %+v\nfull install: %d bytes", c.what, r, full)
		}
	}
	if n := strings.Count(story.String(), "verified: the follower opens with Pebble"); n != 2 {
		t.Errorf("the story tells of %d verified installs, want 2:\n%s", n, story.String())
	}
}
