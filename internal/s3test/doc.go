// Package s3test starts a real S3-compatible server for tests: versitygw,
// pinned in tools/go.mod, serving a temporary directory through its POSIX
// backend on an ephemeral 127.0.0.1 port, with one bucket made.
// The binary is built once per test binary (and kept, keyed by tools/go.sum,
// for the next run), or taken from $SNAPSYNC_VERSITYGW.
// It never mocks S3: what passes here talks to a server that speaks the API.
package s3test
