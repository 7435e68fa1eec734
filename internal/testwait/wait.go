package testwait

import (
	"testing"
	"time"
)

// Backoff bounds: the first wait between two checks, and the longest.
const (
	firstWait = time.Millisecond
	maxWait   = 50 * time.Millisecond
)

// Eventually calls cond until it returns true, waiting 1 ms after the first
// call and twice as long after each next one, up to 50 ms. If timeout passes
// first, it fails tb (Fatalf) with cond's last reason. cond runs on the
// calling goroutine, so it may itself fail tb at once on an error no wait
// can mend.
func Eventually(tb testing.TB, timeout time.Duration, cond func() (done bool, reason string)) {
	tb.Helper()
	if why, ok := poll(timeout, cond); !ok {
		tb.Fatalf("not done after %v: %s", timeout, why)
	}
}

// poll calls cond as Eventually does and returns its last reason and
// whether it returned true before the timeout.
func poll(timeout time.Duration, cond func() (bool, string)) (string, bool) {
	deadline := time.Now().Add(timeout)
	for wait := firstWait; ; wait = min(2*wait, maxWait) {
		done, why := cond()
		if done {
			return "", true
		}
		left := time.Until(deadline)
		if left <= 0 {
			return why, false
		}
		time.Sleep(min(wait, left))
	}
}
