package repo

import (
	"fmt"
	"strings"

	"github.com/snapsync/snapsync/verify"
)

// The repository's keys. Chunks fan out over 256 prefixes by their first
// byte so that a directory backend keeps directories small.
const (
	configKey      = "config"
	chunkPrefix    = "chunks/"
	manifestPrefix = "manifests/"
	snapshotPrefix = "snapshots/"
	snapshotSuffix = ".json"
	lockPrefix     = "locks/"
	packPrefix     = "packs/" // format 2
	indexPrefix    = "index/" // format 2
)

// PackKey returns the key of the pack with SHA-256 id: packs/ab/abcdef….
func PackKey(id verify.Digest) string {
	s := id.String()
	return packPrefix + s[:2] + "/" + s
}

// IndexKey returns the key of the index object with SHA-256 sum.
func IndexKey(sum verify.Digest) string { return indexPrefix + sum.String() }

// parsePackKey returns the ID a pack key names.
func parsePackKey(key string) (verify.Digest, error) {
	rest, ok := strings.CutPrefix(key, packPrefix)
	if !ok || len(rest) != 3+2*verify.DigestSize || rest[2] != '/' || rest[:2] != rest[3:5] {
		return verify.Digest{}, fmt.Errorf("%w: %q is not a pack key", ErrBadKey, key)
	}
	return verify.ParseDigest(rest[3:])
}

// parseIndexKey returns the SHA-256 an index key names.
func parseIndexKey(key string) (verify.Digest, error) {
	return parseKeyID(key, indexPrefix, "")
}

// ChunkKey returns the key of the chunk with digest d: chunks/ab/abcdef….
func ChunkKey(d verify.Digest) string {
	s := d.String()
	return chunkPrefix + s[:2] + "/" + s
}

// ManifestKey returns the key of the manifest of snapshot id.
func ManifestKey(id verify.Digest) string { return manifestPrefix + id.String() }

// SnapshotKey returns the key of the index object of snapshot id.
func SnapshotKey(id verify.Digest) string { return snapshotPrefix + id.String() + snapshotSuffix }

// parseChunkKey returns the digest a chunk key names.
func parseChunkKey(key string) (verify.Digest, error) {
	rest, ok := strings.CutPrefix(key, chunkPrefix)
	if !ok || len(rest) != 3+2*verify.DigestSize || rest[2] != '/' || rest[:2] != rest[3:5] {
		return verify.Digest{}, fmt.Errorf("%w: %q is not a chunk key", ErrBadKey, key)
	}
	return verify.ParseDigest(rest[3:])
}

// parseKeyID returns the snapshot ID a manifest or index key names.
func parseKeyID(key, prefix, suffix string) (verify.Digest, error) {
	rest, ok := strings.CutPrefix(key, prefix)
	if ok {
		rest, ok = strings.CutSuffix(rest, suffix)
	}
	if !ok {
		return verify.Digest{}, fmt.Errorf("%w: %q", ErrBadKey, key)
	}
	return verify.ParseDigest(rest)
}

// ValidKey reports whether key is one every Backend must store: 1 to 1024
// bytes of slash-separated non-empty elements of [A-Za-z0-9._-], none of
// which starts with a dot. Backends refuse other keys with ErrBadKey.
func ValidKey(key string) bool {
	if key == "" || len(key) > 1024 {
		return false
	}
	for _, elem := range strings.Split(key, "/") {
		if elem == "" || elem[0] == '.' {
			return false
		}
		for _, c := range elem {
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-') {
				return false
			}
		}
	}
	return true
}

// snapshotKey returns the key of snapshot id's snapshot object: named by
// the ID in a plaintext repository, by its keyed name in an encrypted one.
func (r *Repo) snapshotKey(id verify.Digest) string {
	return SnapshotKey(r.crypt.snapshotName(id))
}

// manifestKey returns the key of snapshot id's manifest, named as
// snapshotKey names its snapshot object.
func (r *Repo) manifestKey(id verify.Digest) string {
	return ManifestKey(r.crypt.snapshotName(id))
}

// LocateManifest returns the key of snapshot id's manifest: ManifestKey(id)
// in a plaintext repository, a keyed name in an encrypted one. For tests
// and tools that damage or inspect a repository on purpose.
func (r *Repo) LocateManifest(id verify.Digest) string { return r.manifestKey(id) }
