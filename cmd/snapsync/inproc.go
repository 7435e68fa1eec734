package main

import (
	"context"
	"net/http"

	"github.com/snapsync/snapsync/client"
	"github.com/snapsync/snapsync/internal/inproc"
	"github.com/snapsync/snapsync/server"
)

// inprocURL is the base URL of a server reached through serveInProc's
// client; the host names nothing.
const inprocURL = "http://snapsync.inproc"

// serveInProc serves h to the returned client only, over in-memory pipes
// (package internal/inproc): restore serves its repository, and backup a
// pebble: or dir: source, to their own install or backup without opening a
// socket another local user could connect to. stop ends the server and
// waits for it.
func serveInProc(ctx context.Context, h http.Handler) (url string, hc *http.Client, stop func()) {
	ln := inproc.New()
	ctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	done := make(chan error, 1)
	go func() { done <- server.Serve(ctx, ln, h) }()
	hc = client.NewHTTPClient(client.WithDialer(ln.DialContext))
	return inprocURL, hc, func() {
		hc.CloseIdleConnections()
		cancel()
		<-done // its error is a shutdown's: the work is done or failed already
	}
}
