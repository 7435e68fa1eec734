package repo

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"syscall"
)

// A key file holds a repository key: KeySize random bytes written as
// 2×KeySize hexadecimal digits (`openssl rand -hex 32`), white space around
// them ignored. It must be a regular file that neither its group nor others
// may read or write, owned by this uid (or root): a key anyone else can
// read opens every snapshot, one anyone else can write can be swapped for
// theirs. The key never leaves the process: it is not logged, and the
// repository stores only a keyslot it opens (keyslot.go).
const (
	// KeySize is the size of a repository key: 32 bytes, 256 bits.
	KeySize = 32
	// maxKeyFile bounds what is read of a key file.
	maxKeyFile = 4 << 10
)

// ErrKeyFile reports a key file that is refused: unsafe permissions, or
// contents that are no key.
var ErrKeyFile = errors.New("repo: key file")

// Key is a repository key, read from a key file. Its String and GoString
// say nothing of it, so logging one by mistake reveals nothing.
type Key struct{ b [KeySize]byte }

func (*Key) String() string   { return "repo.Key(redacted)" }
func (*Key) GoString() string { return "repo.Key(redacted)" }

// ParseKey parses the contents of a key file: 2×KeySize hexadecimal digits,
// white space around them ignored.
func ParseKey(data []byte) (*Key, error) {
	s := bytes.TrimSpace(data)
	switch {
	case len(s) < 2*KeySize:
		return nil, fmt.Errorf("%w: %d characters, too short: want %d hexadecimal digits (openssl rand -hex %d)", ErrKeyFile, len(s), 2*KeySize, KeySize)
	case len(s) > 2*KeySize:
		return nil, fmt.Errorf("%w: %d characters: want exactly %d hexadecimal digits (openssl rand -hex %d)", ErrKeyFile, len(s), 2*KeySize, KeySize)
	}
	k := &Key{}
	if _, err := hex.Decode(k.b[:], s); err != nil {
		return nil, fmt.Errorf("%w: not hexadecimal (want %d hexadecimal digits)", ErrKeyFile, 2*KeySize)
	}
	return k, nil
}

// GenerateKey returns a new random key and its key file contents.
func GenerateKey() (*Key, []byte, error) {
	k := &Key{}
	if _, err := rand.Read(k.b[:]); err != nil {
		return nil, nil, fmt.Errorf("repo: generate key: %w", err)
	}
	return k, []byte(hex.EncodeToString(k.b[:]) + "\n"), nil
}

// ReadKeyFile reads the key file at path (a symlink is followed: a
// Kubernetes Secret's file is one) and refuses one that is not a regular
// file, that its group or others may read or write, that another uid than
// this one or root owns, or that holds no key (ParseKey).
func ReadKeyFile(path string) (*Key, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrKeyFile, err)
	}
	defer f.Close() // read-only
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrKeyFile, err)
	}
	if err := checkKeyMode(path, fi); err != nil {
		return nil, err
	}
	data, err := io.ReadAll(io.LimitReader(f, maxKeyFile))
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrKeyFile, path, err)
	}
	k, err := ParseKey(data)
	clear(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return k, nil
}

// checkKeyMode refuses a key file others may read or change.
func checkKeyMode(path string, fi os.FileInfo) error {
	if !fi.Mode().IsRegular() {
		return fmt.Errorf("%w: %s is no regular file (%s)", ErrKeyFile, path, fi.Mode().Type())
	}
	if perm := fi.Mode().Perm(); perm&0o066 != 0 {
		return fmt.Errorf("%w: %s is mode %04o: its group or others may read or write it; make it 0600 or 0400 (chmod 600 %s)", ErrKeyFile, path, perm, path)
	}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok && st.Uid != 0 && int(st.Uid) != os.Getuid() {
		return fmt.Errorf("%w: %s is owned by uid %d, not this uid %d or root", ErrKeyFile, path, st.Uid, os.Getuid())
	}
	return nil
}
