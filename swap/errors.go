package swap

import (
	"errors"

	"github.com/snapsync/snapsync/internal/durable"
)

var (
	// ErrExchangeUnsupported reports that the platform or filesystem cannot
	// exchange two paths atomically; Replace falls back to a journaled pair of
	// renames. It is durable.ErrExchangeUnsupported, which the FS reports.
	ErrExchangeUnsupported = durable.ErrExchangeUnsupported
	// ErrInterrupted wraps the error of a Replace that stopped after its journal
	// became durable: the caller must run Recover before anything else.
	ErrInterrupted = errors.New("swap: interrupted, run Recover")
	// ErrPending reports a journal already present: an earlier replace was
	// interrupted and Recover has not run.
	ErrPending = errors.New("swap: journal of an interrupted replace present")
	// ErrBadJournal reports a journal that is garbage, of an unknown version or
	// naming paths outside its root. Recover never acts on one.
	ErrBadJournal = errors.New("swap: bad journal")
	// ErrConflict reports that the trees on disk match no state a replace
	// recorded in the journal can pass through; Recover changes nothing.
	ErrConflict = errors.New("swap: disk state does not match the journal")
	// ErrBadLayout reports arguments of Replace that break its layout rules
	// (see the package documentation).
	ErrBadLayout = errors.New("swap: bad layout")
)
