package repo

import (
	"errors"
	"fmt"
	"maps"

	"github.com/snapsync/snapsync/verify"
)

// ErrBadLabel reports a label Commit cannot record.
var ErrBadLabel = errors.New("repo: bad label")

// CommitOption tunes one Commit.
type CommitOption func(*commitOptions)

type commitOptions struct {
	labels map[string]string
}

// WithLabels adds labels to the snapshot's snapshot object, beside (and over)
// the labels of its manifest. Keys must be non-empty; keys and values are
// at most verify.MaxLabelLen bytes, and the labels of one snapshot at most
// verify.MaxLabels.
func WithLabels(labels map[string]string) CommitOption {
	return func(o *commitOptions) {
		if o.labels == nil {
			o.labels = make(map[string]string, len(labels))
		}
		maps.Copy(o.labels, labels)
	}
}

// addLabels merges the option's labels into info, checking their bounds.
func (o *commitOptions) addLabels(info *SnapshotInfo) error {
	if len(o.labels) == 0 {
		return nil
	}
	for k, v := range o.labels {
		if k == "" || len(k) > verify.MaxLabelLen || len(v) > verify.MaxLabelLen {
			return fmt.Errorf("%w: %.64q=%.64q: keys must be 1 to %d bytes, values at most %d", ErrBadLabel, k, v, verify.MaxLabelLen, verify.MaxLabelLen)
		}
	}
	if info.Labels == nil {
		info.Labels = make(map[string]string, len(o.labels))
	}
	maps.Copy(info.Labels, o.labels)
	if len(info.Labels) > verify.MaxLabels {
		return fmt.Errorf("%w: %d labels, at most %d", ErrBadLabel, len(info.Labels), verify.MaxLabels)
	}
	return nil
}
