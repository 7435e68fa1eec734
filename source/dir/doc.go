// Package dir is the dir:DIR source: one immutable checkpoint directory that
// its owner made (e.g. RocksDB's `ldb checkpoint`), served as it is.
//
// The server never owns nor deletes it; its metadata is given or guessed
// once, so its snapshot ID stays the same across restarts.
package dir
