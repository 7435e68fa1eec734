package verify

import (
	"encoding/binary"
	"io/fs"
)

// ChunkRecordSize is the size of one chunk's record in the canonical
// encoding: its length and its digest.
const ChunkRecordSize = 4 + DigestSize

// The canonical encoding in pieces, for a writer that streams it rather
// than holding a Manifest: AppendHead, then for each file in path order
// AppendFileHead and (for a full entry) AppendChunk once per chunk. The
// pieces are Encode's own, so they give its bytes exactly; the caller keeps
// the rules Validate checks.

// AppendHead appends the encoding's head to b: the magic, meta, the chunk
// size, dirs (sorted by path) and the number of files that follow.
func AppendHead(b []byte, meta *Meta, chunkSize uint32, dirs []Dir, files int) []byte {
	e := encoder{buf: b}
	e.buf = append(e.buf, manifestMagic...)
	e.meta(meta)
	e.u32(chunkSize)
	e.u32(uint32(len(dirs)))
	for _, d := range dirs {
		e.str(d.Path)
		e.u32(uint32(d.Mode))
	}
	e.u32(uint32(files))
	return e.buf
}

// AppendFileHead appends a file's entry but its chunk records: a link entry
// (linkTo >= 0, the index of its group's first entry) whole, or a full
// entry's path, size, mode and chunk count, after which exactly chunks
// records (AppendChunk) must follow.
func AppendFileHead(b []byte, path string, linkTo int, size int64, mode fs.FileMode, chunks int) []byte {
	e := encoder{buf: b}
	e.str(path)
	e.u32(uint32(linkTo + 1))
	if linkTo >= 0 {
		return e.buf
	}
	e.u64(uint64(size))
	e.u32(uint32(mode))
	e.u32(uint32(chunks))
	return e.buf
}

// AppendChunk appends one chunk's record.
func AppendChunk(b []byte, c Chunk) []byte {
	b = binary.BigEndian.AppendUint32(b, c.Length)
	return append(b, c.Digest[:]...)
}

// FileHeadSize is the length of AppendFileHead's output for a path of
// pathLen bytes: a link entry, or a full entry without its chunk records.
func FileHeadSize(pathLen int, link bool) int {
	if link {
		return linkEntrySize + pathLen
	}
	return fullEntrySize + pathLen
}

// ParseChunk reads a chunk record (ChunkRecordSize bytes).
func ParseChunk(b []byte) Chunk {
	c := Chunk{Length: binary.BigEndian.Uint32(b)}
	copy(c.Digest[:], b[4:ChunkRecordSize])
	return c
}
