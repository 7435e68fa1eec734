//go:build unix

package metrics

import "golang.org/x/sys/unix"

// freeBytes is the space available to an unprivileged process on path's
// filesystem.
func freeBytes(path string) (int64, error) {
	var st unix.Statfs_t
	if err := unix.Statfs(path, &st); err != nil {
		return 0, err
	}
	return int64(st.Bavail) * int64(st.Bsize), nil //nolint:gosec,unconvert // block counts fit; types differ by OS
}
