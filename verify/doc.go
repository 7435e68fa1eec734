// Package verify holds what makes a snapshot trustworthy: SHA-256 digests, the
// manifest that describes a checkpoint, its canonical encoding whose digest is
// the snapshot ID, and the checks applied to anything read from the network or
// from disk (path validation, bounds, and checking a directory tree against a
// manifest).
package verify
