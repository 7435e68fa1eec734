package main

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strings"
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

// backupCachePath returns the digest cache a backup of the local source
// src (pebble:DIR or dir:DIR) keeps in dir, one per source directory, so a
// second backup of an unchanged file costs a stat instead of a read and a
// hash (the server's digest cache: docs/DESIGN.md invariant 8). It makes
// dir (0700) if need be and refuses one this uid could not have written
// alone (another owner, or group- or world-writable): "" and a warning then,
// and the backup hashes every file as if it had no cache. An empty dir
// turns the cache off.
func backupCachePath(dir, src string, log zerolog.Logger) string {
	if dir == "" {
		return ""
	}
	_, path, _ := strings.Cut(src, ":")
	abs, err := filepath.Abs(path)
	if err != nil {
		return ""
	}
	if err := trustedCacheDir(dir); err != nil {
		log.Warn().Err(err).Str("cache_dir", dir).Msg("not keeping a digest cache: every file is hashed")
		return ""
	}
	sum := sha256.Sum256([]byte(abs))
	return filepath.Join(dir, "backup-"+hex.EncodeToString(sum[:8])+".digests")
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
