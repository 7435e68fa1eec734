package server

import "time"

// Tuning of chunk compression.
const (
	// poorRatio: a chunk whose zstd frame is not below this fraction of its
	// raw length is sent raw; compression does not pay for it.
	poorRatio = 0.9
	// poorRunSkip poor chunks in a row mark the rest of a file incompressible.
	poorRunSkip = 2
	// onMargin: auto turns compression back on only when it is estimated to
	// cost less than this fraction of sending raw (hysteresis).
	onMargin = 0.8
	// While auto sends raw, it compresses one chunk in probeEvery to keep its
	// estimates fresh, backing off from minProbe to maxProbe while raw wins.
	minProbe, maxProbe = 8, 256
	// minSends is how many sends auto measures before it judges the link.
	minSends = 4
)

// chooser decides, chunk by chunk, whether a stream compresses. In auto mode
// it compares, per raw byte, the cost of sending raw (s: the time one wire
// byte spends waiting for the rate limiter and in Send, i.e. the link) with
// the cost of compressing first (c + r*s, c: compression time per raw byte,
// r: compressed/raw). Compression pays only when the link is slower than
// compression: on loopback it ends up raw, on a slow link it ends up zstd.
type chooser struct {
	mode Compression
	linkEstimate
	sinceProbe int
	file       int
	poorRun    int
}

// linkEstimate is what a chooser has learnt of its stream's link: what a
// peer's next stream starts from (peerMemory).
type linkEstimate struct {
	on          bool // auto: compressing now
	send, comp  ewma // ns per wire byte; ns per raw byte
	ratio       ewma // compressed / raw
	probeEvery  int
	sentSamples int
}

func newChooser(mode Compression) *chooser {
	return &chooser{mode: mode, linkEstimate: linkEstimate{on: true, probeEvery: minProbe}, file: -1}
}

// try reports whether to compress the next chunk, of file.
func (c *chooser) try(file int) bool {
	if file != c.file {
		c.file, c.poorRun = file, 0
	}
	switch {
	case c.mode == CompressionNone || c.poorRun >= poorRunSkip:
		return false
	case c.mode == CompressionZstd || c.on:
		return true
	}
	c.sinceProbe++
	if c.sinceProbe >= c.probeEvery {
		c.sinceProbe = 0
		return true
	}
	return false
}

// pays reports whether a frame of out bytes is worth sending for raw bytes.
func pays(raw, out int) bool { return float64(out) < poorRatio*float64(raw) }

// compressed records compressing raw bytes into out in d.
func (c *chooser) compressed(raw, out int, d time.Duration) {
	if raw == 0 {
		return
	}
	if pays(raw, out) {
		c.poorRun = 0
	} else {
		c.poorRun++
	}
	c.comp.add(float64(d.Nanoseconds()) / float64(raw))
	c.ratio.add(min(float64(out)/float64(raw), 1))
	if c.mode == CompressionAuto && !c.on {
		c.decide()
		if !c.on {
			c.probeEvery = min(2*c.probeEvery, maxProbe)
		}
	}
}

// cached records a chunk whose verdict came from the frame cache (out bytes
// for raw; out == raw when compression did not pay): it counts toward the
// file's run of poor chunks and the ratio like a compression, but costs no
// CPU, so the compression cost estimate is left alone.
func (c *chooser) cached(raw, out int) {
	if raw == 0 {
		return
	}
	if pays(raw, out) {
		c.poorRun = 0
	} else {
		c.poorRun++
	}
	c.ratio.add(min(float64(out)/float64(raw), 1))
}

// sent records sending wire bytes in d (rate limiter wait included).
func (c *chooser) sent(wire int, d time.Duration) {
	if wire == 0 {
		return
	}
	c.send.add(float64(d.Nanoseconds()) / float64(wire))
	c.sentSamples++
	if c.mode == CompressionAuto {
		c.decide()
	}
}

// decide switches auto on or off from the current estimates.
func (c *chooser) decide() {
	if c.sentSamples < minSends || c.comp.n == 0 {
		return
	}
	raw := c.send.v
	zstd := c.comp.v + c.ratio.v*c.send.v
	switch {
	case c.on && zstd > raw:
		c.on, c.probeEvery, c.sinceProbe = false, minProbe, 0
	case !c.on && zstd < onMargin*raw:
		c.on = true
	}
}

// ewma is an exponentially weighted moving average; the first sample sets it.
type ewma struct {
	v float64
	n int
}

const ewmaWeight = 0.2

func (e *ewma) add(x float64) {
	if e.n == 0 {
		e.v = x
	} else {
		e.v += ewmaWeight * (x - e.v)
	}
	e.n++
}
