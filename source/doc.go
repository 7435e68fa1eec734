// Package source defines where a leader sidecar gets its checkpoints: the
// Checkpoint a source yields and the small Source interface every kind of
// source implements.
//
// Each kind lives in a package of its own under source/: pebble (a Pebble DB
// the sidecar opens), dir (an immutable checkpoint directory), registry
// (checkpoints the node registers) and exec (a command that makes them).
package source
