package repo

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/snapsync/snapsync/internal/durable"
)

// The repository formats this build reads and writes. Format 1 stores one
// object per chunk (chunks/ab/abcdef…); format 2 stores chunks in packs
// listed by index objects (see pack.go and index.go). A new repository is
// format 2; a format-1 repository stays format 1, read and written as it
// always was (back up into a new repository to move to packs).
const (
	Format1 = 1
	Format2 = 2
	// FormatVersion is the format of the repositories this build creates.
	FormatVersion = Format2
)

// EncryptionNone is the encryption scheme of a plaintext format-2
// repository: blobs, index objects and manifests stored as they are. The
// config object names the scheme; the other is EncryptionAES256GCM
// (keyslot.go, crypt.go).
const EncryptionNone = "none"

// infoVersion is the version of snapshot objects (snapshots/ID.json), the
// same in both formats.
const infoVersion = 1

// maxConfigSize bounds the config object read back.
const maxConfigSize = 4 << 10

// Options tune a Repo; the zero value is the defaults.
type Options struct {
	// Concurrency is how many chunks Verify, Commit and Prune handle at once.
	// Default 4.
	Concurrency int
	// StaleLock is how long after its last refresh a lock no longer counts:
	// the holder was killed. Ages are compared on the backend's clock. Default
	// 30 minutes.
	StaleLock time.Duration
	// RefreshLock is how often a held lock is refreshed; at most StaleLock/3.
	// Default StaleLock/6.
	RefreshLock time.Duration
	// Format is the format of a repository OpenOrCreate creates: Format1 or
	// Format2. An existing repository keeps its own. Default FormatVersion.
	Format int
	// PackSize is the size a format-2 pack is closed at. Default
	// DefaultPackSize (16 MiB).
	PackSize int
	// Now is the clock for the times a Repo records and for Prune's keep
	// window. Default time.Now.
	Now func() time.Time
	// Key is the repository key (ReadKeyFile). A repository OpenOrCreate
	// creates with a key is encrypted (format 2 only); an encrypted
	// repository opens only with its key (else ErrKeyNeeded, ErrWrongKey),
	// a plaintext one only without (else ErrNotEncrypted). Default nil:
	// none.
	Key *Key
}

// withDefaults returns o with every zero field set to its default.
func (o Options) withDefaults() Options {
	if o.Concurrency <= 0 {
		o.Concurrency = 4
	}
	if o.StaleLock <= 0 {
		o.StaleLock = 30 * time.Minute
	}
	if o.RefreshLock <= 0 || o.RefreshLock > o.StaleLock/3 {
		o.RefreshLock = o.StaleLock / 6
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Format != Format1 {
		o.Format = FormatVersion
	}
	if o.PackSize <= 0 || o.PackSize > maxPackSize-maxBlobBody-blobHeaderSize {
		o.PackSize = DefaultPackSize
	}
	return o
}

// Repo is a repository of snapshots on a Backend. It is safe for concurrent
// use; several processes may share one repository (see Lock and Prune).
type Repo struct {
	b      Backend
	opts   Options
	codec  *codec
	format int       // Format1 or Format2
	packs  *packer   // format 2
	idx    *indexSet // format 2
	crypt  *crypt    // an encrypted repository's keys; nil: plaintext
}

// config is the config object: the repository's format version and, from
// format 2, its encryption scheme and (encrypted) the keyslot.
type config struct {
	Version    int      `json:"version"`
	Encryption string   `json:"encryption,omitempty"`
	Keyslot    *keyslot `json:"keyslot,omitempty"`
}

// Open opens the existing repository on b: one whose config object is there
// and of this format version. It writes nothing: a backend without a config
// object is a *NoRepositoryError, a config object of another version matches
// ErrVersion. opts may be nil.
func Open(ctx context.Context, b Backend, opts *Options) (*Repo, error) {
	return open(ctx, b, opts, false)
}

// OpenOrCreate opens the repository on b as Open does, first creating it (its
// config object) if b holds none. Only what writes snapshots (a backup)
// should create a repository.
func OpenOrCreate(ctx context.Context, b Backend, opts *Options) (*Repo, error) {
	return open(ctx, b, opts, true)
}

func open(ctx context.Context, b Backend, opts *Options, create bool) (*Repo, error) {
	var o Options
	if opts != nil {
		o = *opts
	}
	c, err := newCodec()
	if err != nil {
		return nil, err
	}
	r := &Repo{b: b, opts: o.withDefaults(), codec: c}
	data, err := r.getSmall(ctx, configKey, maxConfigSize)
	switch {
	case errors.Is(err, ErrNotFound) && !create:
		return nil, &NoRepositoryError{Reason: "no config object"}
	case errors.Is(err, ErrNotFound):
		data, err = r.newConfig()
		if err == nil {
			err = r.b.Put(ctx, configKey, bytes.NewReader(data), int64(len(data)))
		}
	}
	if err != nil {
		return nil, fmt.Errorf("repo: config: %w", err)
	}
	cfg, err := decodeConfig(data)
	if err != nil {
		return nil, err
	}
	if r.crypt, err = cfg.unlock(r.opts.Key); err != nil {
		return nil, err
	}
	r.format = cfg.Version
	r.codec.sampled = r.format >= Format2
	r.packs = newPacker(r, r.opts.PackSize)
	r.idx = &indexSet{}
	return r, nil
}

// newConfig returns the config object of a new repository: encrypted under
// a new random master key if a key is given.
func (r *Repo) newConfig() ([]byte, error) {
	cfg := config{Version: Format1}
	switch {
	case r.opts.Key != nil && r.opts.Format < Format2:
		return nil, errors.New("a format-1 repository cannot be encrypted")
	case r.opts.Key != nil:
		master := make([]byte, KeySize)
		if _, err := rand.Read(master); err != nil {
			return nil, err
		}
		slot, err := sealKeyslot(r.opts.Key, master)
		if err != nil {
			return nil, err
		}
		cfg = config{Version: Format2, Encryption: EncryptionAES256GCM, Keyslot: slot}
	case r.opts.Format >= Format2:
		cfg = config{Version: Format2, Encryption: EncryptionNone}
	}
	return json.Marshal(cfg)
}

// unlock returns the keys of the repository c configures opened with k:
// nil for a plaintext one, which refuses a key.
func (c config) unlock(k *Key) (*crypt, error) {
	switch {
	case c.Version == Format1 && k != nil:
		return nil, fmt.Errorf("%w: format 1 is never encrypted", ErrNotEncrypted)
	case c.Encryption != EncryptionAES256GCM && k != nil:
		return nil, fmt.Errorf("%w: encryption %q", ErrNotEncrypted, c.Encryption)
	case c.Encryption != EncryptionAES256GCM:
		return nil, nil
	case k == nil:
		return nil, ErrKeyNeeded
	}
	master, err := c.Keyslot.open(k)
	if err != nil {
		return nil, err
	}
	return newCrypt(master)
}

// Encrypted reports whether the repository is encrypted.
func (r *Repo) Encrypted() bool { return r.crypt != nil }

// decodeConfig parses a config object and refuses an unknown version or
// encryption scheme.
func decodeConfig(data []byte) (config, error) {
	var c config
	if err := durable.DecodeJSON(data, &c); err != nil {
		if v, ok := versionOf(data); ok && v != Format1 && v != Format2 {
			return c, fmt.Errorf("%w: %d, this snapsync reads %d and %d", ErrVersion, v, Format1, Format2)
		}
		return c, fmt.Errorf("repo: config: %w: %v", ErrCorrupt, err)
	}
	switch {
	case c.Version != Format1 && c.Version != Format2:
		return c, fmt.Errorf("%w: %d, this snapsync reads %d and %d", ErrVersion, c.Version, Format1, Format2)
	case c.Version == Format1 && (c.Encryption != "" || c.Keyslot != nil):
		return c, fmt.Errorf("repo: config: %w: format 1 has no encryption field", ErrCorrupt)
	case c.Version == Format2 && c.Encryption != EncryptionNone && c.Encryption != EncryptionAES256GCM:
		return c, fmt.Errorf("%w: encryption %.64q, this snapsync reads %q and %q", ErrVersion, c.Encryption, EncryptionNone, EncryptionAES256GCM)
	case c.Encryption == EncryptionNone && c.Keyslot != nil:
		return c, fmt.Errorf("repo: config: %w: a keyslot in a repository that is not encrypted", ErrCorrupt)
	case c.Encryption == EncryptionAES256GCM && c.Keyslot == nil:
		return c, fmt.Errorf("repo: config: %w: encrypted, and no keyslot", ErrCorrupt)
	case c.Keyslot != nil:
		if err := c.Keyslot.check(); err != nil {
			return c, fmt.Errorf("repo: config: %w: %v", ErrCorrupt, err)
		}
	}
	return c, nil
}

// Format returns the repository's format version: Format1 or Format2.
func (r *Repo) Format() int { return r.format }

// getSmall reads the whole object at key, which must be at most limit
// bytes: it reads no more than limit+1 of a longer one (a *tooLongError).
func (r *Repo) getSmall(ctx context.Context, key string, limit int64) ([]byte, error) {
	rc, err := r.b.Get(ctx, key)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	data, err := io.ReadAll(io.LimitReader(rc, limit+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", key, err)
	}
	if int64(len(data)) > limit {
		return nil, &tooLongError{key: key, limit: limit}
	}
	return data, nil
}

// tooLongError reports an object longer than the limit its reader set. It
// matches ErrCorrupt.
type tooLongError struct {
	key   string
	limit int64
}

func (e *tooLongError) Error() string {
	return fmt.Sprintf("%s: %v: over %d bytes", e.key, ErrCorrupt, e.limit)
}

func (e *tooLongError) Unwrap() error { return ErrCorrupt }

// putBytes stores data at key.
func (r *Repo) putBytes(ctx context.Context, key string, data []byte) error {
	if err := r.b.Put(ctx, key, bytes.NewReader(data), int64(len(data))); err != nil {
		return fmt.Errorf("put %s: %w", key, err)
	}
	return nil
}

// versionOf reads only the format version of a JSON object, leniently: an
// object a later format wrote may hold fields this one does not know, and is
// refused as ErrVersion, not as corrupt.
func versionOf(b []byte) (int, bool) {
	var v struct {
		Version int `json:"version"`
	}
	if err := json.Unmarshal(b, &v); err != nil {
		return 0, false
	}
	return v.Version, true
}
