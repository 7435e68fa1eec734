package main

import (
	"io"
	"os"
	"time"

	"github.com/mattn/go-isatty"
	"github.com/schollz/progressbar/v3"

	"github.com/snapsync/snapsync/client"
	"github.com/snapsync/snapsync/repo/backup"
)

// bar is a progress bar (bytes, rate, ETA) on stderr, for a person watching a
// terminal; it is nil, and draws nothing, when stderr is not a terminal or
// the output is --json.
type bar struct{ pb *progressbar.ProgressBar }

// newBar returns the bar of an operation described by what, or nil.
func newBar(stderr io.Writer, jsonOut bool, what string) *bar {
	f, ok := stderr.(*os.File)
	if jsonOut || !ok || !(isatty.IsTerminal(f.Fd()) || isatty.IsCygwinTerminal(f.Fd())) {
		return nil
	}
	return &bar{pb: progressbar.NewOptions64(-1,
		progressbar.OptionSetWriter(stderr), progressbar.OptionSetDescription(what),
		progressbar.OptionShowBytes(true), progressbar.OptionShowTotalBytes(true), progressbar.OptionSetPredictTime(true),
		progressbar.OptionUseIECUnits(true), progressbar.OptionThrottle(100*time.Millisecond),
		progressbar.OptionSetWidth(30), progressbar.OptionClearOnFinish(), progressbar.OptionShowElapsedTimeOnFinish())}
}

// set shows done of total bytes.
func (b *bar) set(done, total int64) {
	if b == nil || total <= 0 {
		return
	}
	if b.pb.GetMax64() != total {
		b.pb.ChangeMax64(total)
	}
	_ = b.pb.Set64(done) // drawing a bar on a terminal: nothing to do about a failed write
}

// install is client.Config.Progress for the bar; nil without a bar.
func (b *bar) install() func(client.Progress) {
	if b == nil {
		return nil
	}
	return func(p client.Progress) { b.set(p.BytesDone, p.BytesTotal) }
}

// backup is backup.Config.Progress for the bar; nil without a bar.
func (b *bar) backup() func(backup.Progress) {
	if b == nil {
		return nil
	}
	return func(p backup.Progress) { b.set(p.BytesDone, p.BytesTotal) }
}

// finish clears the bar so that the summary starts on a clean line.
func (b *bar) finish() {
	if b != nil {
		_ = b.pb.Exit() // see set
	}
}
