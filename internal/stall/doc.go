// Package stall bounds every wait on a peer by progress, never by total
// time: an HTTP request whose response brings too few bytes for too long is
// cancelled with ErrStalled, while a slow transfer that keeps moving runs to
// its end however long it takes.
package stall
