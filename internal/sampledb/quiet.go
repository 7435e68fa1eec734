package sampledb

import "fmt"

// QuietLogger is a Pebble logger that drops Pebble's own logs, for the DBs
// tests open; Fatalf still panics, as Pebble expects.
type QuietLogger struct{}

// Infof drops the message.
func (QuietLogger) Infof(string, ...any) {}

// Errorf drops the message.
func (QuietLogger) Errorf(string, ...any) {}

// Fatalf panics with the message: Pebble calls it on broken invariants.
func (QuietLogger) Fatalf(f string, args ...any) { panic(fmt.Sprintf(f, args...)) }
