package wire

import (
	"errors"
	"fmt"
	"strings"

	snapsyncv1 "github.com/snapsync/snapsync/proto/gen/snapsync/v1"
)

// ErrCompression is returned for a compression name ParseCompression does
// not know.
var ErrCompression = errors.New("unknown compression")

// ParseCompression maps "auto" (or ""), "zstd" and "none" (or "raw"),
// case-insensitive, to snapsync's one compression enum, the API's:
// COMPRESSION_UNSPECIFIED is auto (the server compresses with zstd only while
// it pays for the stream), COMPRESSION_ZSTD and COMPRESSION_NONE are the
// others. The client asks for it; the server applies it when a client leaves
// the choice to it.
func ParseCompression(s string) (snapsyncv1.Compression, error) {
	switch strings.ToLower(s) {
	case "", "auto":
		return snapsyncv1.Compression_COMPRESSION_UNSPECIFIED, nil
	case "zstd":
		return snapsyncv1.Compression_COMPRESSION_ZSTD, nil
	case "none", "raw":
		return snapsyncv1.Compression_COMPRESSION_NONE, nil
	}
	return 0, fmt.Errorf("%w %q: want auto, zstd or none", ErrCompression, s)
}

// KnownCompression reports whether c is a value of the enum.
func KnownCompression(c snapsyncv1.Compression) bool {
	_, ok := snapsyncv1.Compression_name[int32(c)]
	return ok
}

// SampleBytes is the part of a chunk compressed first, from its middle, to
// decide whether the whole chunk is worth compressing: the peer path
// (server) and a backup repository (repo) both decide so. A chunk whose
// sample does not compress is sent or stored raw without compressing the
// rest, so an incompressible chunk (a block its engine compressed already)
// costs 1/16 of its compression at 1 MiB chunks.
const SampleBytes = 64 << 10

// Sample returns where, in a chunk of n bytes, the sample to try first
// starts and its length; ok is false for a chunk under four samples, which
// is compressed whole.
func Sample(n int) (at, length int, ok bool) {
	if n < 4*SampleBytes {
		return 0, 0, false
	}
	return (n - SampleBytes) / 2, SampleBytes, true
}
