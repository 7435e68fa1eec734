package client

import (
	"errors"
	"fmt"
	"io/fs"
)

// Staged reports what the staging area at root holds, from its state.json,
// changing nothing and taking no lock: the snapshot staged there, ready for
// Commit; the same with ErrRecoverNeeded when an interrupted Commit left its
// swap (Commit or Recover finishes it); else ErrNotStaged.
func Staged(root string, opts ...AreaOption) (Result, error) {
	a, err := openArea(root, false, opts)
	if errors.Is(err, fs.ErrNotExist) {
		return Result{}, fmt.Errorf("%w: no staging area %s", ErrNotStaged, root)
	}
	if err != nil {
		return Result{}, err
	}
	defer a.close()
	st, err := readState(a.l)
	switch {
	case err != nil:
		return Result{}, err
	case st == nil || st.Phase == phaseFetching:
		return Result{}, fmt.Errorf("%w: nothing complete in %s", ErrNotStaged, root)
	}
	fillMeta(a.l, st)
	if st.Phase == phaseSwapping {
		return st.result(), fmt.Errorf("%w: %s holds an interrupted swap", ErrRecoverNeeded, root)
	}
	return st.result(), nil
}
