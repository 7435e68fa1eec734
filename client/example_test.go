package client_test

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"

	"github.com/snapsync/snapsync/client"
	"github.com/snapsync/snapsync/server"
	dirsource "github.com/snapsync/snapsync/source/dir"
	"github.com/snapsync/snapsync/verify"
)

// ExampleInstall serves a checkpoint directory from a leader sidecar and
// installs it on a follower.
func ExampleInstall() {
	ctx := context.Background()
	tmp, err := os.MkdirTemp("", "snapsync-example")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(tmp)

	// The leader: an immutable checkpoint directory, served over h2c.
	checkpoint := filepath.Join(tmp, "checkpoint")
	if err := os.MkdirAll(filepath.Join(checkpoint, "snapshots"), 0o755); err != nil {
		panic(err)
	}
	for name, data := range map[string]string{"CURRENT": "MANIFEST-000001\n", "000001.sst": "a table", "snapshots/000001.sst": "a table"} {
		if err := os.WriteFile(filepath.Join(checkpoint, name), []byte(data), 0o644); err != nil {
			panic(err)
		}
	}
	src, err := dirsource.New(checkpoint, verify.Meta{Term: 1, Index: 100})
	if err != nil {
		panic(err)
	}
	srv, err := server.New(ctx, server.Config{Source: src, WorkDir: filepath.Join(tmp, "work")})
	if err != nil {
		panic(err)
	}
	defer srv.Close()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	sctx, stop := context.WithCancel(ctx)
	defer stop()
	go server.Serve(sctx, ln, srv.Handler()) //nolint:errcheck // ends with the example

	// The follower: install a snapshot reflecting at least index 100.
	res, err := client.Install(ctx, "http://"+ln.Addr().String(), 100, client.Config{Dest: filepath.Join(tmp, "db")})
	if err != nil {
		panic(err)
	}
	fmt.Printf("index %d, %d files, %d bytes fetched\n", res.Index, res.Files, res.BytesFetched)
	b, err := os.ReadFile(filepath.Join(tmp, "db", "snapshots", "000001.sst"))
	fmt.Printf("%s %v\n", b, err)
	// Output:
	// index 100, 3 files, 23 bytes fetched
	// a table <nil>
}

// ExampleOpen leases a snapshot and fetches its chunks into a sink of the
// caller's, as a backup does, instead of installing it.
func ExampleOpen() {
	ctx := context.Background()
	tmp, err := os.MkdirTemp("", "snapsync-example")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(tmp)
	checkpoint := filepath.Join(tmp, "checkpoint")
	if err := os.MkdirAll(checkpoint, 0o755); err != nil {
		panic(err)
	}
	if err := os.WriteFile(filepath.Join(checkpoint, "000001.sst"), []byte("a table"), 0o644); err != nil {
		panic(err)
	}
	src, err := dirsource.New(checkpoint, verify.Meta{Term: 1, Index: 100})
	if err != nil {
		panic(err)
	}
	srv, err := server.New(ctx, server.Config{Source: src, WorkDir: filepath.Join(tmp, "work")})
	if err != nil {
		panic(err)
	}
	defer srv.Close()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	sctx, stop := context.WithCancel(ctx)
	defer stop()
	go server.Serve(sctx, ln, srv.Handler()) //nolint:errcheck // ends with the example

	s, err := client.Open(ctx, "http://"+ln.Addr().String(), 100, client.Config{})
	if err != nil {
		panic(err)
	}
	defer s.Close()
	var refs []client.ChunkRef
	for fi, f := range s.Manifest().Files {
		for j := range f.Chunks {
			refs = append(refs, client.ChunkRef{File: fi, Chunk: j})
		}
	}
	err = s.Fetch(ctx, refs, func(_ context.Context, ref client.ChunkRef, c verify.Chunk, data []byte) error {
		fmt.Printf("%s chunk %d: %q, %d bytes, verified\n", s.Manifest().Files[ref.File].Path, ref.Chunk, data, c.Length)
		return nil
	})
	fmt.Println(err)
	// Output:
	// 000001.sst chunk 0: "a table", 7 bytes, verified
	// <nil>
}
