package server

import (
	"fmt"
	"strings"
)

// Compression is what the server does with chunks when a client leaves the
// choice to it (COMPRESSION_UNSPECIFIED).
type Compression int

const (
	// CompressionAuto compresses with zstd only while it pays for the stream:
	// when the link is slower than compressing. On a fast link it sends raw.
	CompressionAuto Compression = iota
	// CompressionZstd compresses every chunk that shrinks enough to pay.
	CompressionZstd
	// CompressionNone always sends raw chunks.
	CompressionNone
)

// String returns "auto", "zstd" or "none".
func (c Compression) String() string {
	switch c {
	case CompressionAuto:
		return "auto"
	case CompressionZstd:
		return "zstd"
	case CompressionNone:
		return "none"
	}
	return fmt.Sprintf("Compression(%d)", int(c))
}

// ParseCompression parses "auto", "zstd" or "none" (case-insensitive).
func ParseCompression(s string) (Compression, error) {
	switch strings.ToLower(s) {
	case "auto", "":
		return CompressionAuto, nil
	case "zstd":
		return CompressionZstd, nil
	case "none", "raw":
		return CompressionNone, nil
	}
	return 0, fmt.Errorf("%w: compression %q: want auto, zstd or none", ErrBadConfig, s)
}

func (c Compression) valid() bool { return c >= CompressionAuto && c <= CompressionNone }
