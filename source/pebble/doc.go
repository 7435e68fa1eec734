// Package pebble is the pebble:DIR source: the sidecar opens a Pebble DB and
// owns it, and each checkpoint is Pebble's own hard-linked Checkpoint with
// the WAL flushed.
//
// A live Pebble DB cannot be opened by a second process, so whoever writes
// to it does so through Source.DB. Logger adapts zerolog for Pebble.
package pebble
