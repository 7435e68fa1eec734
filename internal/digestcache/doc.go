// Package digestcache is the one format of snapsync's digest caches: the
// server's, which spares hashing an unchanged SST for each checkpoint, and
// the follower's beside its destination (docs/DESIGN.md invariant 8). Both
// key a file's chunk list by its full durable.FileID (device, inode, birth
// time) with its size, mtime and chunk size. A cache file is untrusted: it is
// bounded, SHA-256-sealed and decoded strictly (Decode).
package digestcache
