package client

import (
	"errors"
	"fmt"
	"path/filepath"
	"syscall"
)

// NoFreeSpaceHeadroom is the Config.FreeSpaceHeadroom that keeps no space
// free beyond what the install writes.
const NoFreeSpaceHeadroom int64 = -1

// MaxDefaultFreeSpaceHeadroom caps the default headroom: 5% of the staging
// filesystem, at most 1 GiB.
const MaxDefaultFreeSpaceHeadroom int64 = 1 << 30

// headroom is the space kept free on a filesystem of size bytes.
func headroom(setting, size int64) int64 {
	switch {
	case setting < 0:
		return 0
	case setting > 0:
		return setting
	}
	return min(size/20, MaxDefaultFreeSpaceHeadroom)
}

// writeBytes is what carrying out p adds on the staging filesystem: the
// bytes fetched and the bytes copied from local data. A hard link or a
// rename adds nothing, nor does what is already staged.
func (p *plan) writeBytes() int64 { return p.fetchBytes() + p.reuseBytes() }

// checkSpace refuses, before the first byte is written, a plan the staging
// filesystem has no room for (its headroom included). A filesystem that
// cannot tell is not checked.
func checkSpace(cfg *Config, l layout, p *plan) error {
	free, size, err := fsSpace(l.root)
	if err != nil {
		cfg.Logger.Warn().Err(err).Msg("free space unknown, not checked")
		return nil
	}
	write := p.writeBytes()
	hr := headroom(cfg.FreeSpaceHeadroom, size)
	cfg.Logger.Info().Int64("write", write).Int64("headroom", hr).Int64("free", free).Msg("free space")
	if write+hr > free {
		return &NoSpaceError{Path: filepath.Dir(l.root), Need: write + hr, Headroom: hr, Free: free}
	}
	return nil
}

// noSpace marks an error caused by a full filesystem (ENOSPC or EDQUOT) as
// ErrNoSpace.
func noSpace(err error) error {
	if err == nil || errors.Is(err, ErrNoSpace) {
		return err
	}
	if errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT) {
		return fmt.Errorf("%w: %w", ErrNoSpace, err)
	}
	return err
}
