// Package exec is the exec:PATH source: a program the sidecar runs to make a
// checkpoint whenever a request needs one newer than it has.
//
// Its protocol (environment in, one JSON object out) is Command's; what the
// program makes is then checked, registered and served exactly as a
// registry source's checkpoints are, and Command also serves a registry
// source as its --checkpoint-command.
package exec
