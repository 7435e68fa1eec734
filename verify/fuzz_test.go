package verify

import (
	"bytes"
	"testing"
)

// FuzzDecode checks that Decode never panics, and that whatever it accepts is
// valid and canonical: it encodes back to the same bytes.
func FuzzDecode(f *testing.F) {
	good, err := sampleManifest().Encode()
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good)
	f.Add(good[:40])
	f.Add([]byte(manifestMagic))
	f.Add(encodeUnchecked(f, func(m *Manifest) { oneByteChunks(&m.Files[2], 3) }))
	f.Add(encodeUnchecked(f, func(m *Manifest) { shortFirst(&m.Files[0]); shortFirst(&m.Files[1]) }))
	links, err := linksManifest().Encode()
	if err != nil {
		f.Fatal(err)
	}
	f.Add(links)
	f.Add(encodeLinksUnchecked(f, func(m *Manifest) { m.Files[3].LinkTo = 2 }))
	f.Add(encodeLinksUnchecked(f, func(m *Manifest) { m.Files[2].LinkTo = 2 }))
	f.Add(encodeLinksUnchecked(f, func(m *Manifest) { m.Files[2].LinkTo = 1<<32 - 2 }))
	f.Add(encodeLinksUnchecked(f, func(m *Manifest) { m.Files[3].Path = m.Files[2].Path }))
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := Decode(b)
		if err != nil {
			return
		}
		if err := m.Validate(); err != nil {
			t.Fatalf("Decode accepted an invalid manifest: %v", err)
		}
		again, err := m.Encode()
		if err != nil {
			t.Fatalf("re-encode: %v", err)
		}
		if !bytes.Equal(again, b) {
			t.Fatal("accepted bytes are not canonical")
		}
	})
}

// FuzzValidatePath checks that an accepted path can never leave its root.
func FuzzValidatePath(f *testing.F) {
	for _, s := range []string{"a/b", "../x", "/abs", "a/./b", "om.db/000001.sst", "a\\b", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, p string) {
		if ValidatePath(p) != nil {
			return
		}
		if p[0] == '/' || p == ".." || bytes.HasPrefix([]byte(p), []byte("../")) ||
			bytes.Contains([]byte(p), []byte("/../")) || bytes.HasSuffix([]byte(p), []byte("/..")) {
			t.Fatalf("accepted escaping path %q", p)
		}
	})
}
