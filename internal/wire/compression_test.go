package wire

import (
	"errors"
	"testing"

	snapsyncv1 "github.com/snapsync/snapsync/proto/gen/snapsync/v1"
)

func TestParseCompression(t *testing.T) {
	t.Parallel()
	testCases := []struct {
		in   string
		want snapsyncv1.Compression
	}{
		{"", snapsyncv1.Compression_COMPRESSION_UNSPECIFIED},
		{"Auto", snapsyncv1.Compression_COMPRESSION_UNSPECIFIED},
		{"zstd", snapsyncv1.Compression_COMPRESSION_ZSTD},
		{"none", snapsyncv1.Compression_COMPRESSION_NONE},
		{"RAW", snapsyncv1.Compression_COMPRESSION_NONE},
	}
	for _, tc := range testCases {
		if got, err := ParseCompression(tc.in); err != nil || got != tc.want || !KnownCompression(got) {
			t.Errorf("ParseCompression(%q) = %v, %v; want %v", tc.in, got, err, tc.want)
		}
	}
	if _, err := ParseCompression("gzip"); !errors.Is(err, ErrCompression) {
		t.Errorf("ParseCompression(gzip) = %v, want ErrCompression", err)
	}
	if KnownCompression(snapsyncv1.Compression(9)) {
		t.Error("Compression(9) is known")
	}
}

func TestSample(t *testing.T) {
	tests := []struct {
		n          int
		at, length int
		ok         bool
	}{
		{n: 1 << 20, at: (1<<20 - SampleBytes) / 2, length: SampleBytes, ok: true},
		{n: 4 * SampleBytes, at: 3 * SampleBytes / 2, length: SampleBytes, ok: true},
		{n: 4*SampleBytes - 1},
		{n: 0},
	}
	for _, tt := range tests {
		at, length, ok := Sample(tt.n)
		if at != tt.at || length != tt.length || ok != tt.ok {
			t.Errorf("Sample(%d) = %d, %d, %v; want %d, %d, %v", tt.n, at, length, ok, tt.at, tt.length, tt.ok)
		}
		if ok && (at < 0 || at+length > tt.n) {
			t.Errorf("Sample(%d): [%d, %d) outside the chunk", tt.n, at, at+length)
		}
	}
}
