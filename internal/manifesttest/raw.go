// Package manifesttest builds manifests that the verify package refuses to
// make, for the tests of everything that must refuse them (clients, hostile
// peers): the canonical layout, written without validation.
package manifesttest

import (
	"encoding/binary"

	"github.com/snapsync/snapsync/verify"
)

// EncodeRaw writes m in the canonical encoding's layout (format 2, no
// labels) without validating it, so a test can serve manifests that Encode
// refuses to make.
func EncodeRaw(m *verify.Manifest) []byte {
	var b []byte
	u32 := func(v uint32) { b = binary.BigEndian.AppendUint32(b, v) }
	u64 := func(v uint64) { b = binary.BigEndian.AppendUint64(b, v) }
	str := func(s string) { u32(uint32(len(s))); b = append(b, s...) }
	b = append(b, "SNAPMAN2"...)
	u64(m.Meta.Term)
	u64(m.Meta.Index)
	str(m.Meta.Engine)
	u64(uint64(m.Meta.CreatedUnixNano))
	u32(0) // labels
	u32(m.ChunkSize)
	u32(uint32(len(m.Dirs)))
	for _, d := range m.Dirs {
		str(d.Path)
		u32(uint32(d.Mode))
	}
	u32(uint32(len(m.Files)))
	for _, f := range m.Files {
		str(f.Path)
		u32(uint32(f.LinkTo + 1))
		if f.LinkTo >= 0 {
			continue // a link entry: its group's first entry has the rest
		}
		u64(uint64(f.Size))
		u32(uint32(f.Mode))
		u32(uint32(len(f.Chunks)))
		for _, c := range f.Chunks {
			u32(c.Length)
			b = append(b, c.Digest[:]...)
		}
	}
	return b
}
