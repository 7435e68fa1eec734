package main

import (
	"testing"

	"github.com/snapsync/snapsync/client"
)

func TestFreeSpaceHeadroomFlag(t *testing.T) {
	t.Parallel()
	testCases := []struct {
		in   string
		want int64
		bad  bool
	}{
		{in: "auto", want: 0},
		{in: "", want: 0},
		{in: "0", want: client.NoFreeSpaceHeadroom},
		{in: "512MiB", want: 512 << 20},
		{in: "1GiB", want: 1 << 30},
		{in: "lots", bad: true},
		{in: "-1", bad: true},
	}
	for _, tc := range testCases {
		f := fetchFlags{stallTimeout: client.DefaultStallTimeout, fileModeMask: "022", headroom: tc.in}
		var cfg client.Config
		err := f.apply(&cfg)
		switch {
		case tc.bad && err == nil:
			t.Errorf("%q: accepted (%d)", tc.in, cfg.FreeSpaceHeadroom)
		case !tc.bad && err != nil:
			t.Errorf("%q: %v", tc.in, err)
		case !tc.bad && cfg.FreeSpaceHeadroom != tc.want:
			t.Errorf("%q: headroom %d, want %d", tc.in, cfg.FreeSpaceHeadroom, tc.want)
		}
	}
}
