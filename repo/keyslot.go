package repo

import (
	"bytes"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
)

// An encrypted repository (format 2, encryption EncryptionAES256GCM) has a
// master key, made at random when the repository is created and never
// changed: every blob, index object, manifest and snapshot object is
// encrypted under keys derived from it (crypt.go). The config object holds
// it sealed in a keyslot under the key of the key file:
//
//	kek    = HKDF-SHA-256(ikm: key file's key, salt: keyslot salt, info: "snapsync keyslot v1")
//	sealed = nonce (12) | AES-256-GCM(kek, nonce, master key, aad: "snapsync keyslot v1 aes-256-gcm") (32 + 16)
//
// The GCM tag is the key check: a wrong key fails to open the slot
// (ErrWrongKey) and nothing about either key is learnt from the slot.
// Rotating the key (RotateKey) seals the same master key under a new key
// file in a new keyslot and rewrites the config object: nothing else
// changes, so rotation costs one small write however large the repository.
const (
	// EncryptionAES256GCM is the encryption scheme of an encrypted format-2
	// repository: AES-256-GCM with a random 96-bit nonce per object.
	EncryptionAES256GCM = "aes-256-gcm"
	// KDFHKDFSHA256 is the keyslot's key derivation.
	KDFHKDFSHA256 = "hkdf-sha256"

	keyslotInfo   = "snapsync keyslot v1"
	keyslotAAD    = keyslotInfo + " " + EncryptionAES256GCM
	keyslotSalt   = 32
	nonceSize     = 12
	tagSize       = 16
	sealOverhead  = nonceSize + tagSize
	keyslotSealed = nonceSize + KeySize + tagSize
)

// Key errors; match them with errors.Is.
var (
	// ErrKeyNeeded reports an encrypted repository opened without a key.
	ErrKeyNeeded = errors.New("repo: repository is encrypted: a key is needed")
	// ErrWrongKey reports a key that does not open the repository's keyslot.
	ErrWrongKey = errors.New("repo: wrong key: it does not open this repository's keyslot")
	// ErrNotEncrypted reports a key given for a repository that is not
	// encrypted.
	ErrNotEncrypted = errors.New("repo: repository is not encrypted: a key was given")
)

// keyslot is the master key sealed under a key file's key, as the config
// object holds it ([]byte fields are base64 in JSON).
type keyslot struct {
	KDF    string `json:"kdf"`
	Salt   []byte `json:"salt"`
	Sealed []byte `json:"sealed"`
}

// check refuses a keyslot this build cannot open whatever the key.
func (s *keyslot) check() error {
	switch {
	case s.KDF != KDFHKDFSHA256:
		return fmt.Errorf("keyslot kdf %.64q, want %q", s.KDF, KDFHKDFSHA256)
	case len(s.Salt) != keyslotSalt:
		return fmt.Errorf("keyslot salt of %d bytes, want %d", len(s.Salt), keyslotSalt)
	case len(s.Sealed) != keyslotSealed:
		return fmt.Errorf("keyslot of %d bytes, want %d", len(s.Sealed), keyslotSealed)
	}
	return nil
}

// sealKeyslot seals master under k in a new keyslot of a fresh salt.
func sealKeyslot(k *Key, master []byte) (*keyslot, error) {
	s := &keyslot{KDF: KDFHKDFSHA256, Salt: make([]byte, keyslotSalt)}
	if _, err := rand.Read(s.Salt); err != nil {
		return nil, fmt.Errorf("repo: keyslot: %w", err)
	}
	aead, err := s.aead(k)
	if err != nil {
		return nil, err
	}
	s.Sealed, err = seal(aead, make([]byte, nonceSize, keyslotSealed), master, []byte(keyslotAAD))
	if err != nil {
		return nil, err
	}
	return s, nil
}

// open returns the master key the keyslot seals under k; any other key is
// ErrWrongKey.
func (s *keyslot) open(k *Key) ([]byte, error) {
	if err := s.check(); err != nil {
		return nil, fmt.Errorf("repo: config: %w: %v", ErrCorrupt, err)
	}
	aead, err := s.aead(k)
	if err != nil {
		return nil, err
	}
	master, err := aead.Open(nil, s.Sealed[:nonceSize], s.Sealed[nonceSize:], []byte(keyslotAAD))
	if err != nil {
		return nil, ErrWrongKey
	}
	return master, nil
}

// aead returns the cipher that seals the master key under k in this slot.
func (s *keyslot) aead(k *Key) (cipher.AEAD, error) {
	kek, err := hkdf.Key(sha256.New, k.b[:], s.Salt, keyslotInfo, KeySize)
	if err != nil {
		return nil, fmt.Errorf("repo: keyslot: %w", err)
	}
	return newGCM(kek)
}

// newGCM returns AES-256-GCM under key.
func newGCM(key []byte) (cipher.AEAD, error) {
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("repo: cipher: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("repo: cipher: %w", err)
	}
	return aead, nil
}

// seal encrypts plain behind buf, whose nonceSize bytes it fills with a
// random nonce: buf[:nonceSize] | ciphertext | tag. plain may be
// buf[nonceSize:nonceSize+n] itself (sealed in place, no copy).
func seal(aead cipher.AEAD, buf, plain, aad []byte) ([]byte, error) {
	nonce := buf[:nonceSize]
	if _, err := rand.Read(nonce); err != nil {
		return nil, fmt.Errorf("repo: nonce: %w", err)
	}
	return aead.Seal(nonce, nonce, plain, aad), nil
}

// RotateKey makes k the repository's key: it seals the master key, which
// it opens with the key the repository was opened with, under k in a new
// keyslot, rewrites the config object (one small write; no pack, index or
// manifest changes), and reads it back to check that k opens it. From then
// on the old key is ErrWrongKey. Run one rotation at a time: a rotation
// that finds the keyslot changed since (another rotation) fails with
// ErrWrongKey and writes nothing.
func (r *Repo) RotateKey(ctx context.Context, k *Key) error {
	if r.crypt == nil {
		return ErrNotEncrypted
	}
	cfg, err := r.readConfig(ctx)
	if err != nil {
		return err
	}
	master, err := cfg.Keyslot.open(r.opts.Key)
	if err != nil {
		return fmt.Errorf("repo: rotate key: the keyslot changed since the repository was opened: %w", err)
	}
	if cfg.Keyslot, err = sealKeyslot(k, master); err != nil {
		return err
	}
	data, err := json.Marshal(cfg)
	if err != nil {
		return fmt.Errorf("repo: rotate key: %w", err)
	}
	if err := r.putBytes(ctx, configKey, data); err != nil {
		return fmt.Errorf("repo: rotate key: %w", err)
	}
	if cfg, err = r.readConfig(ctx); err != nil {
		return fmt.Errorf("repo: rotate key: read back: %w", err)
	}
	if back, err := cfg.Keyslot.open(k); err != nil || !bytes.Equal(back, master) {
		return fmt.Errorf("repo: rotate key: the config object read back does not open with the new key (another rotation?): %w", errors.Join(ErrWrongKey, err))
	}
	r.opts.Key = k
	return nil
}

// readConfig reads and decodes the config object of an encrypted
// repository.
func (r *Repo) readConfig(ctx context.Context) (config, error) {
	data, err := r.getSmall(ctx, configKey, maxConfigSize)
	if err != nil {
		return config{}, fmt.Errorf("repo: config: %w", err)
	}
	cfg, err := decodeConfig(data)
	if err == nil && cfg.Keyslot == nil {
		err = fmt.Errorf("repo: config: %w: no keyslot in the config object of an encrypted repository", ErrCorrupt)
	}
	return cfg, err
}
