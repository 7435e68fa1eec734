package client

import (
	"io/fs"
	"testing"
)

// TestInstalledModes checks the modes the leader's permission bits become:
// masked, never setuid, setgid, sticky or world-writable, and never closed to
// the owner.
func TestInstalledModes(t *testing.T) {
	t.Parallel()
	testCases := []struct {
		name      string
		perm      fs.FileMode
		mask      fs.FileMode
		file, dir fs.FileMode
	}{
		{"usual", 0o644, 0o022, 0o644, 0o744},
		{"usual dir", 0o755, 0o022, 0o755, 0o755},
		{"world-writable", 0o777, 0o022, 0o755, 0o755},
		{"world-writable, no mask", 0o777, 0o002, 0o775, 0o775},
		{"group-writable kept by mask 002", 0o664, 0o002, 0o664, 0o764},
		{"nothing", 0o000, 0o022, 0o400, 0o700},
		{"write-only", 0o222, 0o022, 0o600, 0o700},
		{"strict mask", 0o755, 0o077, 0o700, 0o700},
		{"setuid", 0o4755 | fs.ModeSetuid, 0o022, 0o755, 0o755},
		{"setgid and sticky", fs.ModeSetgid | fs.ModeSticky | 0o2775, 0o022, 0o755, 0o755},
		{"world-write whatever the mask", 0o666, 0o000, 0o664, 0o764},
	}
	for _, tc := range testCases {
		if got := fileMode(tc.perm, tc.mask); got != tc.file {
			t.Errorf("%s: fileMode(%o, %o) = %o, want %o", tc.name, uint32(tc.perm), uint32(tc.mask), uint32(got), uint32(tc.file))
		}
		if got := dirMode(tc.perm, tc.mask); got != tc.dir {
			t.Errorf("%s: dirMode(%o, %o) = %o, want %o", tc.name, uint32(tc.perm), uint32(tc.mask), uint32(got), uint32(tc.dir))
		}
	}
}
