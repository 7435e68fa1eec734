package exec

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/snapsync/snapsync/source"
	"github.com/snapsync/snapsync/source/registry"
)

// script writes a shell script and returns the command that runs it:
// /bin/sh reading the file, not an exec of the file itself. Subtests run in
// parallel, and a file just written can be held open for writing by a child
// another subtest is forking (its fds close only at its exec); an exec of
// the file in that window fails with ETXTBSY (golang/go#22315). Reading it
// is never refused.
func script(tb testing.TB, body string) []string {
	tb.Helper()
	p := filepath.Join(tb.TempDir(), "make-checkpoint")
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		tb.Fatal(err)
	}
	return []string{"/bin/sh", p}
}

// makeCkpt is shell that makes a small checkpoint named $1 under the root.
const makeCkpt = `d="$SNAPSYNC_CMD_ROOT/ck-$SNAPSYNC_CMD_MIN_INDEX"; mkdir -p "$d" && echo data > "$d/CURRENT" && echo m > "$d/MANIFEST-000001"
`

func TestSource(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	testCases := []struct {
		name    string
		body    string
		wantErr error
	}{
		{"makes a checkpoint", makeCkpt + `printf '{"dir":"%s","term":4,"index":%s}' "$d" "$SNAPSYNC_CMD_MIN_INDEX"`, nil},
		{"whitespace around the object", makeCkpt + `printf '\n  {"dir":"%s","term":4,"index":%s}\n\n\t' "$d" "$SNAPSYNC_CMD_MIN_INDEX"`, nil},
		{"fails", "echo cannot checkpoint >&2; exit 3", registry.ErrRejected},
		{"prints garbage", "echo not json", ErrOutput},
		{"prints nothing", "true", ErrOutput},
		{"prints unknown fields", `echo '{"dir":"/x","term":1,"index":9,"extra":1}'`, ErrOutput},
		{"prints no dir", `echo '{"term":1,"index":90}'`, ErrOutput},
		{"prints a log line after the object", makeCkpt + `printf '{"dir":"%s","term":4,"index":%s}\ndone\n' "$d" "$SNAPSYNC_CMD_MIN_INDEX"`, ErrOutput},
		{"prints two objects", makeCkpt + `printf '{"dir":"%s","term":4,"index":%s} {}' "$d" "$SNAPSYNC_CMD_MIN_INDEX"`, ErrOutput},
		{"prints too much", makeCkpt + `printf '{"dir":"%s","term":4,"index":%s}' "$d" "$SNAPSYNC_CMD_MIN_INDEX"; head -c 70000 /dev/zero | tr '\0' ' '`, ErrOutput},
		{"names a dir outside the root", `d=$(mktemp -d); echo x > $d/f; printf '{"dir":"%s","term":1,"index":50}' $d`, registry.ErrRejected},
		{"index too low", `d="$SNAPSYNC_CMD_ROOT/low"; mkdir -p "$d" && echo x > "$d/MANIFEST-000001" && printf '{"dir":"%s","term":1,"index":3}' "$d"`, source.ErrMinIndex},
	}
	for _, tc := range testCases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s, err := New(Config{Command: Command{Args: script(t, tc.body)}, Root: filepath.Join(t.TempDir(), "incoming")})
			if err != nil {
				t.Fatal(err)
			}
			ck, err := s.Checkpoint(ctx, filepath.Join(t.TempDir(), "ck"), 50)
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("got %v, want %v", err, tc.wantErr)
				}
				return
			}
			if err != nil || ck.Meta.Index != 50 || ck.Meta.Term != 4 || !ck.Owned {
				t.Fatalf("got %+v, %v", ck, err)
			}
		})
	}
}

func TestDecodeOutput(t *testing.T) {
	t.Parallel()
	testCases := []struct {
		out string
		ok  bool
	}{
		{`{"dir":"/a","term":1,"index":2}`, true},
		{" \n{\"dir\":\"/a\",\"labels\":{\"k\":\"v\"}}\r\n\t ", true},
		{`{"dir":"/a"}x`, false},
		{`{"dir":"/a"}{"dir":"/b"}`, false},
		{`{"dir":"/a"} null`, false},
		{`{"dir":"/a"} 1`, false},
		{`[{"dir":"/a"}]`, false},
		{`null`, false},
		{`{"dir":"/a"`, false},
		{``, false},
	}
	for _, tc := range testCases {
		_, err := decodeOutput([]byte(tc.out))
		if ok := err == nil; ok != tc.ok {
			t.Errorf("decodeOutput(%q) = %v, want ok %v", tc.out, err, tc.ok)
		}
		if err != nil && !errors.Is(err, ErrOutput) {
			t.Errorf("decodeOutput(%q) = %v, want ErrOutput", tc.out, err)
		}
	}
}

func TestNewRefuses(t *testing.T) {
	t.Parallel()
	for _, cfg := range []Config{{Root: t.TempDir()}, {Command: Command{Args: []string{"/bin/true"}}}} {
		if _, err := New(cfg); !errors.Is(err, source.ErrBadSource) {
			t.Errorf("New(%+v) = %v, want ErrBadSource", cfg, err)
		}
	}
}
