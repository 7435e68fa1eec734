// Package repo keeps backups in a repository: content-addressed chunks stored
// once by digest, one manifest per snapshot in the wire's canonical encoding,
// and a small snapshot object per snapshot written last as its commit point.
// A repository of format 2 (the one this package creates) packs chunks into
// 16 MiB pack objects listed by one index object per backup (pack.go,
// index.go); format 1 keeps one object per chunk and is still read and written.
// Everything read back is verified (each index object against its name, each
// chunk against its digest, each manifest against its snapshot ID), so a
// damaged repository yields errors that name what is damaged, never wrong data.
// The storage itself is a Backend (a local directory in repo/dir, S3-compatible
// object storage in repo/s3; repo/backend opens either from a URL).
package repo
