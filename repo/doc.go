// Package repo keeps backups in a repository: content-addressed chunks stored
// once by digest, one manifest per snapshot in the wire's canonical encoding,
// and a small index object per snapshot written last as its commit point.
// Everything read back is verified (each chunk against its digest, each
// manifest against its snapshot ID), so a damaged repository yields errors
// that name what is damaged, never wrong data.
// The storage itself is a Backend (a local directory in repo/dir, S3-compatible
// object storage in repo/s3; repo/backend opens either from a URL).
package repo
