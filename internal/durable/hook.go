package durable

// WithHook returns an FS that calls before with a one-line description of each
// operation ("rename /a /b", absolute or as given) before running it on fsys.
// When before returns an error the operation does not run and that error is
// returned: a test makes it fail from the k-th operation on to simulate a crash.
func WithHook(fsys StageFS, before func(op string) error) StageFS {
	around := func(op string, args []string, do func() error) error {
		if err := before(opLine(op, args)); err != nil {
			return err
		}
		return do()
	}
	return &wrapFS{fs: fsys, around: around}
}
