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
