// Package prometheus holds no code: its test loads snapsync's alert rules
// with Prometheus's own rule parser and checks the metrics they use against
// the list docs/OPERATIONS.md documents.
package prometheus
