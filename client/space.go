package client

import (
	"errors"
	"fmt"
	"path/filepath"
	"syscall"

	"github.com/snapsync/snapsync/internal/durable"
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
	free, size, err := durable.Space(l.root)
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

// checkSpaceEarly refuses, before the manifest is fetched, a snapshot that
// cannot fit even if the install wrote nothing the local trees hold: its
// total (CreateSnapshot's total_bytes), less the bytes of the distinct
// local files a hard link, a rename or what is already staged could place
// (Dest or its listed entries, stage/, prev/), plus the headroom, must fit
// in the free space. The total is the peer's word: one that says too
// little is caught by checkSpace once the manifest is verified; one that
// says too much only refuses its own install. A filesystem that cannot
// tell is not checked.
func checkSpaceEarly(cfg *Config, l layout, total uint64) error {
	free, size, err := durable.Space(l.root)
	if err != nil {
		return nil // checkSpace warns
	}
	local := localBytes(l)
	write := int64(min(total, 1<<62)) - local
	hr := headroom(cfg.FreeSpaceHeadroom, size)
	cfg.Logger.Info().Uint64("total", total).Int64("local", local).Int64("headroom", hr).Int64("free", free).
		Msg("free space before the manifest")
	if write+hr > free {
		return &NoSpaceError{Path: filepath.Dir(l.root), Need: write + hr, Headroom: hr, Free: free}
	}
	return nil
}

// localBytes is the size of the distinct regular files of the trees an
// install may place whole or has staged. Unreadable entries count 0.
func localBytes(l layout) int64 {
	trees := []localTree{{root: l.dest}, {root: l.stage}, {root: l.prev}}
	if l.set {
		trees = trees[1:]
		for _, n := range l.names {
			trees = append(trees, localTree{root: filepath.Join(l.dest, n)})
		}
	}
	seen := make(map[durable.FileID]bool)
	var n int64
	for _, t := range trees {
		files, err := listTree(t)
		if err != nil {
			continue
		}
		for _, f := range files {
			if id := durable.InfoID(f.info); !id.IsZero() {
				if seen[id] {
					continue
				}
				seen[id] = true
			}
			n += f.info.Size()
		}
	}
	return n
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
