package swap

import (
	"fmt"

	"github.com/rs/zerolog"

	"github.com/snapsync/snapsync/internal/durable"
)

// Options tunes Replace and Recover. The zero value is ready to use.
type Options struct {
	// FS carries every file operation of a replace or a recovery.
	// Default: durable.OS().
	FS durable.FS
	// Journaled forces the journaled pair of renames even where an atomic
	// exchange works (tests, or a filesystem known not to support it).
	// Default: false (exchange, falling back to the pair when unsupported).
	Journaled bool
	// Hook, when set, is called at the named points listed in the package
	// documentation; an error it returns aborts the operation there.
	// Default: nil (no hook).
	Hook func(point string) error
	// Logger receives one line per replace or recovery decision.
	// Default: the zero Logger, which is disabled.
	Logger zerolog.Logger
}

// ensureDefaults returns o with its defaults filled in.
func (o Options) ensureDefaults() Options {
	if o.FS == nil {
		o.FS = durable.OS()
	}
	return o
}

// hook calls o.Hook at point, if both are set.
func (o Options) hook(point string) error {
	if o.Hook == nil || point == "" {
		return nil
	}
	if err := o.Hook(point); err != nil {
		return fmt.Errorf("hook %s: %w", point, err)
	}
	return nil
}
