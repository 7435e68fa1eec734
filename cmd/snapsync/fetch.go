package main

import (
	"fmt"
	"io/fs"
	"math"
	"strconv"
	"time"

	"github.com/dustin/go-humanize"
	"github.com/spf13/pflag"

	"github.com/snapsync/snapsync/client"
)

// fetchFlags tune how an install fetches and installs, for `install` and
// for the installs of serve's local API.
type fetchFlags struct {
	stallTimeout time.Duration
	fileModeMask string
	headroom     string
}

func (f *fetchFlags) add(fl *pflag.FlagSet) {
	fl.DurationVar(&f.stallTimeout, "stall-timeout", client.DefaultStallTimeout,
		"fail an install whose peer sends no progress (headers, or 32 KiB) for this long; a slow but moving transfer is never cut")
	fl.StringVar(&f.fileModeMask, "file-mode-mask", "022",
		"octal umask applied to the leader's permission bits (setuid, setgid, sticky and world-write are always removed)")
	fl.StringVar(&f.headroom, "free-space-headroom", "auto",
		"space an install leaves free on the staging filesystem, e.g. 512MiB or 0; it is refused before the first byte otherwise (auto: 5% of the filesystem, at most 1GiB)")
}

// apply sets the flags' fields of cfg.
func (f *fetchFlags) apply(cfg *client.Config) error {
	mask, err := strconv.ParseUint(f.fileModeMask, 8, 32)
	if err != nil || mask > 0o777 {
		return fmt.Errorf("--file-mode-mask %q: want octal permission bits such as 022 or 077", f.fileModeMask)
	}
	if f.stallTimeout <= 0 {
		return fmt.Errorf("--stall-timeout %v: must be positive", f.stallTimeout)
	}
	switch f.headroom {
	case "", "auto":
	default:
		n, err := humanize.ParseBytes(f.headroom)
		if err != nil || n > math.MaxInt64 {
			return fmt.Errorf("--free-space-headroom %q: want a size such as 512MiB, 0 or auto", f.headroom)
		}
		cfg.FreeSpaceHeadroom = int64(n)
		if n == 0 {
			cfg.FreeSpaceHeadroom = client.NoFreeSpaceHeadroom // zero is the library's "default"
		}
	}
	cfg.StallTimeout = f.stallTimeout
	cfg.FileModeMask = fs.FileMode(mask)
	if mask == 0 {
		cfg.FileModeMask = 0o002 // zero is the library's "default"; 000 asks to mask only what is always masked
	}
	return nil
}
