// Package chunker splits a file into fixed-size chunks and computes their
// SHA-256 digests, streaming with memory bounded by one chunk per call.
//
// Chunks are fixed-size because LSM files (SSTs, blob files) are immutable
// and WAL/MANIFEST files only grow: fixed boundaries already make identical
// files and grown prefixes share chunks, without a rolling hash's cost.
package chunker
