package main

import (
	"fmt"
	"os"
	"path/filepath"
	"syscall"

	"github.com/rs/zerolog"
)

// defaultCacheDir is where backup keeps its digest caches unless --cache-dir
// says otherwise: $XDG_CACHE_HOME/snapsync, else ~/.cache/snapsync; "" when
// the user has no home.
func defaultCacheDir() string {
	d, err := os.UserCacheDir()
	if err != nil {
		return ""
	}
	return filepath.Join(d, "snapsync")
}

// backupCachePath returns the digest cache backups of local sources
// (pebble:DIR, dir:DIR) keep in dir, so a backup does not read and hash a
// file an earlier one hashed, unchanged since (the server's digest cache:
// docs/DESIGN.md invariant 8). It is one file for every source: entries are
// keyed by file identity, so the SSTs a new checkpoint directory hard-links
// from the DB hit whatever directory the earlier backup read them from, and
// the cache's chunk bound evicts what no recent backup used. It makes dir
// (0700) if need be and refuses one this uid could not have written alone
// (another owner, or group- or world-writable): "" and a warning then, and
// the backup hashes every file. An empty dir turns the cache off.
func backupCachePath(dir string, log zerolog.Logger) string {
	if dir == "" {
		return ""
	}
	if err := trustedCacheDir(dir); err != nil {
		log.Warn().Err(err).Str("cache_dir", dir).Msg("not keeping a digest cache: every file is hashed")
		return ""
	}
	return filepath.Join(dir, "backup.digests")
}

// trustedCacheDir makes dir (0700, parents as MkdirAll makes them) if it
// is missing, and checks that it is a directory of this uid that no one
// else may write to.
func trustedCacheDir(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("make cache dir: %w", err)
	}
	info, err := os.Lstat(dir)
	if err != nil {
		return fmt.Errorf("cache dir: %w", err)
	}
	st, ok := info.Sys().(*syscall.Stat_t)
	switch {
	case !info.IsDir():
		return fmt.Errorf("cache dir %s is not a directory", dir)
	case ok && int(st.Uid) != os.Geteuid():
		return fmt.Errorf("cache dir %s is owned by uid %d, not by this process's uid %d", dir, st.Uid, os.Geteuid())
	case info.Mode().Perm()&0o022 != 0:
		return fmt.Errorf("cache dir %s is group- or world-writable (mode %v)", dir, info.Mode().Perm())
	}
	return nil
}
