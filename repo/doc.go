// Package repo keeps backups in a repository: content-addressed chunks stored
// once by digest, one manifest per snapshot in the wire's canonical encoding,
// and a small snapshot object per snapshot written last as its commit point.
// A repository of format 2 (the one this package creates) packs chunks into
// 16 MiB pack objects listed by one index object per backup (pack.go,
// index.go); format 1 keeps one object per chunk and is still read and written.
// Everything read back is verified (each index object against its name, each
// chunk against its digest, each manifest against its snapshot ID), so a
// damaged repository yields errors that name what is damaged, never wrong data.
// A format-2 repository created with a Key is encrypted (crypt.go, keyslot.go):
// every object that holds data or names it is sealed with AES-256-GCM, and
// chunks and snapshots are stored under keyed names that reveal nothing.
// The storage itself is a Backend (a local directory in repo/dir, S3-compatible
// object storage in repo/s3; repo/backend opens either from a URL).
package repo
