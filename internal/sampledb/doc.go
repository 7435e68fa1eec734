// Package sampledb writes deterministic key/value data into Pebble databases
// and compares two databases key by key. The demo, the end-to-end tests and
// the benchmarks use it to make realistic DBs of a chosen size and to prove
// that an installed copy holds exactly the source's data.
package sampledb
