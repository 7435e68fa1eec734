package repo

import (
	"errors"
	"fmt"
	"testing"

	"github.com/snapsync/snapsync/verify"
)

// TestDecodeStrict: the config and snapshot objects are decoded strictly (one
// object, known fields only), but an object of another format version is
// refused as ErrVersion even when it holds fields this version does not know.
func TestDecodeStrict(t *testing.T) {
	t.Parallel()
	id := verify.Sum([]byte("snapshot"))
	info := func(version int, extra string) []byte {
		return fmt.Appendf(nil, `{"version":%d,"id":%q,"term":1,"index":2,"engine":"pebble","created":"2026-01-02T03:04:05Z",`+
			`"backed_up":"2026-01-02T03:04:06Z","bytes":3,"files":1,"chunks":1%s}`, version, id.String(), extra)
	}
	testCases := []struct {
		name   string
		decode func() error
		want   error
	}{
		{"config", func() error {
			_, err := decodeConfig(fmt.Appendf(nil, `{"version":%d,"encryption":"none"}`, FormatVersion))
			return err
		}, nil},
		{"config format 1", func() error { _, err := decodeConfig([]byte(`{"version":1}`)); return err }, nil},
		{"config format 2 without encryption", func() error { _, err := decodeConfig([]byte(`{"version":2}`)); return err }, ErrVersion},
		{"config of an unknown cipher", func() error {
			_, err := decodeConfig([]byte(`{"version":2,"encryption":"chacha20-poly1305"}`))
			return err
		}, ErrVersion},
		{"config encrypted without a keyslot", func() error {
			_, err := decodeConfig([]byte(`{"version":2,"encryption":"aes-256-gcm"}`))
			return err
		}, ErrCorrupt},
		{"config of a bad keyslot", func() error {
			_, err := decodeConfig([]byte(`{"version":2,"encryption":"aes-256-gcm","keyslot":{"kdf":"hkdf-sha256","salt":"AAAA","sealed":"AAAA"}}`))
			return err
		}, ErrCorrupt},
		{"config of a keyslot, not encrypted", func() error {
			_, err := decodeConfig([]byte(`{"version":2,"encryption":"none","keyslot":{}}`))
			return err
		}, ErrCorrupt},
		{"config unknown field", func() error {
			_, err := decodeConfig(fmt.Appendf(nil, `{"version":%d,"x":1}`, FormatVersion))
			return err
		}, ErrCorrupt},
		{"config trailing", func() error {
			_, err := decodeConfig(fmt.Appendf(nil, `{"version":%d}{}`, FormatVersion))
			return err
		}, ErrCorrupt},
		{"config of a later format", func() error {
			_, err := decodeConfig(fmt.Appendf(nil, `{"version":%d,"cipher":"x"}`, FormatVersion+1))
			return err
		}, ErrVersion},
		{"info", func() error { _, err := decodeInfo(nil, id, info(infoVersion, "")); return err }, nil},
		{"info unknown field", func() error { _, err := decodeInfo(nil, id, info(infoVersion, `,"x":1`)); return err }, ErrCorrupt},
		{"info of a later format", func() error { _, err := decodeInfo(nil, id, info(infoVersion+1, `,"x":1`)); return err }, ErrVersion},
	}
	for _, tc := range testCases {
		if err := tc.decode(); !errors.Is(err, tc.want) || (tc.want == nil) != (err == nil) {
			t.Errorf("%s: %v, want %v", tc.name, err, tc.want)
		}
	}
}
