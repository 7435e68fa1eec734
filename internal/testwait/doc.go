// Package testwait waits in tests for work another goroutine or process
// does: Eventually polls a condition with a bounded backoff until it holds
// or a timeout passes, and fails the test with the condition's last reason.
// It replaces the polling loops with hand-written deadlines tests had.
package testwait
