package server

import "testing"

func TestWindowFor(t *testing.T) {
	for _, tt := range []struct{ n, want int }{
		{100, 1 << 10}, // zstd's smallest window
		{4096, 4096},
		{1 << 20, 1 << 20},
		{1<<20 + 1, 2 << 20},
		{3 << 20, 4 << 20},
	} {
		if got := windowFor(tt.n); got != tt.want {
			t.Errorf("windowFor(%d) = %d, want %d", tt.n, got, tt.want)
		}
	}
}
