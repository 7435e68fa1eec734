package server

import "testing"

func TestSampleOf(t *testing.T) {
	tests := []struct {
		n          int
		at, length int
		ok         bool
	}{
		{n: 1 << 20, at: (1<<20 - sampleBytes) / 2, length: sampleBytes, ok: true},
		{n: 4 * sampleBytes, at: 3 * sampleBytes / 2, length: sampleBytes, ok: true},
		{n: 4*sampleBytes - 1},
		{n: 0},
	}
	for _, tt := range tests {
		at, length, ok := sampleOf(tt.n)
		if at != tt.at || length != tt.length || ok != tt.ok {
			t.Errorf("sampleOf(%d) = %d, %d, %v; want %d, %d, %v", tt.n, at, length, ok, tt.at, tt.length, tt.ok)
		}
		if ok && (at < 0 || at+length > tt.n) {
			t.Errorf("sampleOf(%d): [%d, %d) outside the chunk", tt.n, at, at+length)
		}
	}
}

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
