package e2e

import (
	"math"
	"strings"
	"testing"
)

// TestBenchPlanCounts reads the plan's log line as the report does: the
// local bytes read are -1 (shown as nothing) until the line carries them.
func TestBenchPlanCounts(t *testing.T) {
	t.Parallel()
	testCases := []struct {
		name                 string
		log                  string
		hashed, cached, read int64
	}{
		{"no plan line", `{"message":"free space"}`, 0, 0, -1},
		{"today's plan line", `{"local_files":13,"local_hashed":13,"local_cached":0,"message":"plan"}`, 13, 0, -1},
		{"with bytes read", `{"local_hashed":2,"local_cached":11,"local_bytes_read":65536,"message":"plan"}`, 2, 11, 65536},
	}
	for _, tc := range testCases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h, c, r := planCounts(tc.log)
			if h != tc.hashed || c != tc.cached || r != tc.read {
				t.Fatalf("planCounts = %d, %d, %d; want %d, %d, %d", h, c, r, tc.hashed, tc.cached, tc.read)
			}
		})
	}
}

// TestBenchTargetRows: a target's row keeps three cells whatever its name
// holds (`tar | tar`), a scale bound takes the worst sample, and a
// scenario that did not run says so.
func TestBenchTargetRows(t *testing.T) {
	t.Parallel()
	h := &harness{files: 16384, rows: []*benchRow{{scenario: filesScenario(16384), contender: filesSnapsync,
		samples: []sample{{rss: 100 << 20}, {rss: 300 << 20}, {rss: 50 << 20}}}}}
	testCases := []struct {
		name string
		t    target
		want string
	}{
		{"pipe in the name", target{name: "x ≤ 2× `tar | tar`", measured: 1.5, want: 2, unit: "×"}, "| x ≤ 2× `tar \\| tar` | 1.50× | met |\n"},
		{"worst sample", h.maxRSS("rss", filesScenario(16384), filesSnapsync), "| rss | 300.00 MiB | missed |\n"},
		{"not run", h.maxRSS("rss", planScen, planContender), "| rss | not measured | — |\n"},
	}
	for _, tc := range testCases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := tc.t.markdown(); got != tc.want {
				t.Fatalf("row %q, want %q", got, tc.want)
			}
			if n := strings.Count(strings.ReplaceAll(tc.t.markdown(), `\|`, ""), "|"); n != 4 {
				t.Fatalf("row has %d cell separators, want 4", n)
			}
		})
	}
	if !math.IsNaN(h.maxRSS("rss", planScen, planContender).measured) {
		t.Fatal("a scenario that did not run has a figure")
	}
}
