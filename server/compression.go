package server

import snapsyncv1 "github.com/snapsync/snapsync/proto/gen/snapsync/v1"

// Compression is what the server does with chunks when a client leaves the
// choice to it (COMPRESSION_UNSPECIFIED). It is snapsync's one compression
// enum, the API's; wire.ParseCompression parses it from "auto", "zstd" or
// "none".
type Compression = snapsyncv1.Compression

const (
	// CompressionAuto (COMPRESSION_UNSPECIFIED) compresses with zstd only
	// while it pays for the stream: when the link is slower than compressing.
	// On a fast link it sends raw.
	CompressionAuto = snapsyncv1.Compression_COMPRESSION_UNSPECIFIED
	// CompressionZstd compresses every chunk that shrinks enough to pay.
	CompressionZstd = snapsyncv1.Compression_COMPRESSION_ZSTD
	// CompressionNone always sends raw chunks.
	CompressionNone = snapsyncv1.Compression_COMPRESSION_NONE
)
