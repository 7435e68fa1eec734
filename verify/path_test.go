package verify

import (
	"errors"
	"testing"
)

func TestValidatePath(t *testing.T) {
	t.Parallel()
	testCases := []struct {
		path string
		ok   bool
	}{
		{"000001.sst", true},
		{"om.db/CURRENT", true},
		{"db.snapshots/checkpointState/om.db-1/000012.sst", true},
		{"..data", true},
		{"", false},
		{".", false},
		{"..", false},
		{"../x", false},
		{"a/../../x", false},
		{"a/..", false},
		{"/etc/passwd", false},
		{"a//b", false},
		{"a/./b", false},
		{"a/", false},
		{"a\\b", false},
		{"a\x00b", false},
		{"\xff\xfe", false},
		{string(make([]byte, MaxPathLen+1)), false},
	}
	for _, tc := range testCases {
		err := ValidatePath(tc.path)
		if (err == nil) != tc.ok {
			t.Errorf("ValidatePath(%q) = %v, want ok=%v", tc.path, err, tc.ok)
		}
		if err != nil && !errors.Is(err, ErrBadPath) {
			t.Errorf("ValidatePath(%q) error %v is not ErrBadPath", tc.path, err)
		}
	}
}

func TestParseDigest(t *testing.T) {
	t.Parallel()
	d := Sum([]byte("hello"))
	got, err := ParseDigest(d.String())
	if err != nil || got != d {
		t.Fatalf("round trip: %v %v", got, err)
	}
	for _, bad := range []string{"", "zz", d.String()[:63], d.String() + "00", "g" + d.String()[1:]} {
		if _, err := ParseDigest(bad); !errors.Is(err, ErrBadDigest) {
			t.Errorf("ParseDigest(%q) = %v", bad, err)
		}
	}
	if _, err := DigestFromBytes(make([]byte, 31)); !errors.Is(err, ErrBadDigest) {
		t.Error("DigestFromBytes accepted 31 bytes")
	}
}
