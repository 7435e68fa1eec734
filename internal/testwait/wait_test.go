package testwait

import (
	"fmt"
	"testing"
	"time"
)

// TestPoll: a condition that holds at the third call ends the wait there;
// one that never holds ends it at the timeout, with its last reason, after
// waits that grew but stayed bounded.
func TestPoll(t *testing.T) {
	t.Parallel()
	testCases := []struct {
		name      string
		holdsAt   int // the call at which cond returns true; 0: never
		timeout   time.Duration
		wantOK    bool
		wantCalls func(n int) bool
	}{
		{"at once", 1, time.Second, true, func(n int) bool { return n == 1 }},
		{"third call", 3, time.Second, true, func(n int) bool { return n == 3 }},
		// 200 ms of waits of 1, 2, 4, … 50 ms: about 8 calls, not 200.
		{"never", 0, 200 * time.Millisecond, false, func(n int) bool { return n >= 2 && n <= 20 }},
		{"no time", 0, 0, false, func(n int) bool { return n == 1 }},
	}
	for _, tc := range testCases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			n := 0
			start := time.Now()
			why, ok := poll(tc.timeout, func() (bool, string) {
				n++
				return n == tc.holdsAt, fmt.Sprintf("call %d", n)
			})
			if ok != tc.wantOK || !tc.wantCalls(n) {
				t.Fatalf("poll = %q, %v after %d calls", why, ok, n)
			}
			if !ok && why != fmt.Sprintf("call %d", n) {
				t.Fatalf("reason %q; want the last call's", why)
			}
			if took := time.Since(start); took < tc.timeout && !ok {
				t.Fatalf("gave up after %v, before the timeout %v", took, tc.timeout)
			}
		})
	}
}

// TestEventually: a condition that holds passes the test.
func TestEventually(t *testing.T) {
	t.Parallel()
	n := 0
	Eventually(t, time.Second, func() (bool, string) { n++; return n == 2, "first call" })
}
