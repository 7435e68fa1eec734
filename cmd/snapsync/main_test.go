package main

import (
	"bytes"
	"context"
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
		{"install bad compression", []string{"install", "--from", "http://127.0.0.1:1", "--dest", "/nonexistent/x", "--compression", "lz4"}, "", "--compression"},
		{"serve without source", []string{"serve"}, "", "--source"},
		{"serve unknown source", []string{"serve", "--source", "mysql:/x"}, "", "mysql"},
		{"serve a missing pebble DB", []string{"serve", "--source", "pebble:/nonexistent/db", "--listen", "127.0.0.1:0"}, "", "no such file"},
		{"exec source without work dir", []string{"serve", "--source", "exec:/bin/true"}, "", "needs --work-dir"},
		{"allow-dest without local listener", []string{"serve", "--source", "dir:/nonexistent", "--allow-dest", "/tmp"}, "", "needs --local-listen"},
		{"bad log level", []string{"install", "--from", "http://127.0.0.1:1", "--dest", "/nonexistent/x", "--log-level", "loud"}, "", "--log-level"},
		{"unknown command", []string{"frobnicate"}, "", "unknown command"},
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

// TestDemo runs the README's main job on a small DB: it must tell the whole
// story and verify both installs key by key.
func TestDemo(t *testing.T) {
	t.Parallel()
	var out, errOut bytes.Buffer
	if err := run(context.Background(), []string{"demo", "--size", "8MiB", "--dir", t.TempDir()}, &out, &errOut); err != nil {
		t.Fatalf("demo: %v\nstdout:\n%s\nstderr:\n%s", err, out.String(), errOut.String())
	}
	if n := strings.Count(out.String(), "verified: the follower opens with Pebble"); n != 2 {
		t.Fatalf("demo verified %d installs, want 2:\n%s", n, out.String())
	}
	for _, want := range []string{"interrupted half-way", "resuming", "incremental install"} {
		if !strings.Contains(out.String(), want) {
			t.Fatalf("demo output lacks %q:\n%s", want, out.String())
		}
	}
}
