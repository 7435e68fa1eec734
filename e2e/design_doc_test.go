package e2e

import (
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestInvariantCitationsResolve: every code comment that cites an
// invariant names docs/DESIGN.md and a number that document's Invariants
// list holds, so a reader can follow each one.
func TestInvariantCitationsResolve(t *testing.T) {
	t.Parallel()
	design, err := os.ReadFile(filepath.Join("..", "docs", "DESIGN.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, list, ok := strings.Cut(string(design), "## Invariants")
	if !ok {
		t.Fatal("docs/DESIGN.md has no Invariants section")
	}
	list, _, _ = strings.Cut(list, "\n## ")
	have := map[string]bool{}
	for _, m := range regexp.MustCompile(`(?m)^(\d+)\. \*\*`).FindAllStringSubmatch(list, -1) {
		have[m[1]] = true
	}
	if len(have) < 9 {
		t.Fatalf("docs/DESIGN.md lists %d invariants", len(have))
	}
	cite := regexp.MustCompile(`(\S*)\s+invariant (\d+)`)
	n := 0
	err = filepath.WalkDir("..", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == "gen" || strings.HasPrefix(d.Name(), ".")) && p != ".." {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(p, ".go") || strings.HasSuffix(p, "design_doc_test.go") {
			return nil
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		// A citation may wrap onto the next comment line.
		text := regexp.MustCompile(`\n\s*//\s*`).ReplaceAllString(string(b), " ")
		for _, m := range cite.FindAllStringSubmatch(text, -1) {
			n++
			if !strings.HasSuffix(m[1], "docs/DESIGN.md") || !have[m[2]] {
				t.Errorf("%s: %q does not cite an invariant of docs/DESIGN.md", p, m[0])
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if n == 0 {
		t.Fatal("no invariant citations found: the test reads nothing")
	}
}
