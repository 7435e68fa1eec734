package registry

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"strconv"
)

// commandOutput is what Command prints on stdout: one JSON object.
type commandOutput struct {
	Dir    string            `json:"dir"`
	Term   uint64            `json:"term"`
	Index  uint64            `json:"index"`
	Labels map[string]string `json:"labels"`
}

// maxCommandOutput bounds what is read of a command's stdout.
const maxCommandOutput = 64 << 10

// runCommand runs Command to make a checkpoint. The command gets
// SNAPSYNC_CHECKPOINT_ROOT (where to make it) and SNAPSYNC_MIN_INDEX in its
// environment and prints {"dir": "...", "term": N, "index": N, "labels": {}}
// on stdout; the directory is then registered like any other.
func (s *Source) runCommand(ctx context.Context, minIndex uint64) error {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.CommandTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, s.cfg.Command[0], s.cfg.Command[1:]...)
	cmd.Env = append(os.Environ(), "SNAPSYNC_CHECKPOINT_ROOT="+s.root,
		"SNAPSYNC_MIN_INDEX="+strconv.FormatUint(minIndex, 10))
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &limitWriter{w: &stdout, n: maxCommandOutput}, &limitWriter{w: &stderr, n: 4 << 10}
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("%w: checkpoint command %s: %w: %s", ErrRejected, s.cfg.Command[0], err, bytes.TrimSpace(stderr.Bytes()))
	}
	var out commandOutput
	dec := json.NewDecoder(&stdout)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&out); err != nil {
		return fmt.Errorf("%w: checkpoint command printed no valid JSON {dir, term, index}: %w", ErrRejected, err)
	}
	if out.Dir == "" {
		return fmt.Errorf("%w: checkpoint command printed no dir", ErrRejected)
	}
	return s.Register(ctx, out.Dir, out.Term, out.Index, out.Labels)
}

// limitWriter keeps the first n bytes written and drops the rest.
type limitWriter struct {
	w *bytes.Buffer
	n int
}

func (l *limitWriter) Write(p []byte) (int, error) {
	if room := l.n - l.w.Len(); room > 0 {
		l.w.Write(p[:min(len(p), room)])
	}
	return len(p), nil
}
