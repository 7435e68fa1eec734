// Package e2e holds end-to-end tests that run the real snapsync binary as
// separate processes against real Pebble and RocksDB databases on loopback:
// full, incremental and resumed installs, processes killed at every fault
// point, corruption on the wire, and hostile input.
package e2e
