package exec

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	osexec "os/exec"
	"strconv"
	"time"

	"github.com/snapsync/snapsync/internal/durable"
	"github.com/snapsync/snapsync/source/registry"
)

// The environment a Command's program gets, beside the sidecar's own. The
// names share the prefix EnvPrefix, which the CLI reserves: no flag binds to
// a variable under it (a flag --foo reads SNAPSYNC_FOO), so a program that
// runs snapsync itself is not configured by accident.
const (
	EnvPrefix   = "SNAPSYNC_CMD_"
	EnvRoot     = EnvPrefix + "ROOT"      // the directory to make the checkpoint under
	EnvMinIndex = EnvPrefix + "MIN_INDEX" // the Raft index the checkpoint must reach
)

// DefaultTimeout bounds one run of a Command whose Timeout is zero.
const DefaultTimeout = 5 * time.Minute

// maxOutput bounds what is kept of a program's stdout; more is an error.
const maxOutput = 64 << 10

// ErrOutput reports a program whose stdout is not exactly one JSON object
// {dir, term, index, labels}.
var ErrOutput = errors.New("exec: checkpoint command output is not one JSON object {dir, term, index, labels}")

// Command runs a program that makes a checkpoint. The program gets EnvRoot
// (where to make it) and EnvMinIndex in its environment and prints on stdout
// exactly one JSON object, whitespace around it allowed and nothing else:
// {"dir": "...", "term": N, "index": N, "labels": {}}. It fails by exiting
// non-zero; its stderr goes into the error.
type Command struct {
	// Args is the program and its arguments. Required.
	Args []string
	// Timeout bounds one run. Default DefaultTimeout.
	Timeout time.Duration
}

var _ registry.Maker = Command{}

// output is what the program prints.
type output struct {
	Dir    string            `json:"dir"`
	Term   uint64            `json:"term"`
	Index  uint64            `json:"index"`
	Labels map[string]string `json:"labels"`
}

// Make runs the program once.
func (c Command) Make(ctx context.Context, root string, minIndex uint64) (registry.Made, error) {
	if len(c.Args) == 0 {
		return registry.Made{}, errors.New("exec: no checkpoint command")
	}
	timeout := c.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	cmd := osexec.CommandContext(ctx, c.Args[0], c.Args[1:]...)
	cmd.Env = append(os.Environ(), EnvRoot+"="+root, EnvMinIndex+"="+strconv.FormatUint(minIndex, 10))
	stdout, stderr := &limitWriter{n: maxOutput}, &limitWriter{n: 4 << 10}
	cmd.Stdout, cmd.Stderr = stdout, stderr
	if err := cmd.Run(); err != nil {
		return registry.Made{}, fmt.Errorf("checkpoint command %s: %w: %s", c.Args[0], err, bytes.TrimSpace(stderr.buf.Bytes()))
	}
	if stdout.over {
		return registry.Made{}, fmt.Errorf("%w: more than %d bytes", ErrOutput, maxOutput)
	}
	out, err := decodeOutput(stdout.buf.Bytes())
	if err != nil {
		return registry.Made{}, err
	}
	return registry.Made{Dir: out.Dir, Term: out.Term, Index: out.Index, Labels: out.Labels}, nil
}

// decodeOutput parses stdout: one JSON object with known fields only, and
// nothing after it but whitespace.
func decodeOutput(b []byte) (output, error) {
	var out output
	if err := durable.DecodeJSON(b, &out); errors.Is(err, durable.ErrTrailingData) {
		return output{}, fmt.Errorf("%w: more output after the object: %w", ErrOutput, err)
	} else if err != nil {
		return output{}, fmt.Errorf("%w: %w", ErrOutput, err)
	}
	if out.Dir == "" {
		return output{}, fmt.Errorf("%w: no dir", ErrOutput)
	}
	return out, nil
}

// limitWriter keeps the first n bytes written and notes that more came.
type limitWriter struct {
	buf  bytes.Buffer
	n    int
	over bool
}

func (l *limitWriter) Write(p []byte) (int, error) {
	room := l.n - l.buf.Len()
	if len(p) > room {
		l.over = true
	}
	l.buf.Write(p[:max(0, min(len(p), room))])
	return len(p), nil
}
