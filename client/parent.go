package client

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/snapsync/snapsync/internal/durable"
)

// openParent opens the directory holding the staging area at area, from
// whose handle an install's file operations then resolve (durable.Beneath),
// making it and its missing parents (0755) when create is set. Without
// within it is opened as named, a configured path trusted whole; with
// within (Config.Within), from within's handle down, following no symlink
// (durable.OpenDirWithin), so a directory swapped for a symlink fails it.
func openParent(area, within string, create bool) (*durable.Dir, error) {
	parent := filepath.Dir(area)
	var d *durable.Dir
	var err error
	if within != "" {
		d, err = durable.OpenDirWithin(within, parent, create, 0o755)
	} else {
		if create {
			if err := os.MkdirAll(parent, 0o755); err != nil {
				return nil, fmt.Errorf("create parent of staging area: %w", err)
			}
		}
		d, err = durable.OpenDir(parent)
	}
	if err != nil {
		return nil, fmt.Errorf("open parent of staging area: %w", err)
	}
	return d, nil
}
