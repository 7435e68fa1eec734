package metrics

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

// metricsDoc is the document whose table lists every metric.
var metricsDoc = filepath.Join("..", "docs", "METRICS.md")

// TestDocListsEveryMetric: docs/METRICS.md's table names every snapsync_
// metric the package declares, and no other. The package's side is every
// "snapsync_…" string literal of its source, so a metric added by any
// method is seen; those New and the Watch methods register are checked to
// be among them.
func TestDocListsEveryMetric(t *testing.T) {
	t.Parallel()
	declared := declaredNames(t)
	if len(declared) < 20 {
		t.Fatalf("found %d metric names in the source; the parse is broken", len(declared))
	}
	for _, name := range registeredNames(t) {
		if !slices.Contains(declared, name) {
			t.Errorf("%s is registered but not found as a literal in the source", name)
		}
	}
	documented := documentedNames(t)
	for _, name := range declared {
		if !slices.Contains(documented, name) {
			t.Errorf("%s is not in the table of %s", name, metricsDoc)
		}
	}
	for _, name := range documented {
		if !slices.Contains(declared, name) {
			t.Errorf("%s lists %s, which the package does not declare", metricsDoc, name)
		}
	}
}

// declaredNames returns every string literal starting "snapsync_" in the
// package's non-test source, sorted and unique.
func declaredNames(tb testing.TB) []string {
	tb.Helper()
	files, err := filepath.Glob("*.go")
	if err != nil {
		tb.Fatal(err)
	}
	var names []string
	for _, file := range files {
		if strings.HasSuffix(file, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(token.NewFileSet(), file, nil, 0)
		if err != nil {
			tb.Fatal(err)
		}
		ast.Inspect(f, func(n ast.Node) bool {
			if lit, ok := n.(*ast.BasicLit); ok && lit.Kind == token.STRING {
				if v, err := strconv.Unquote(lit.Value); err == nil && strings.HasPrefix(v, "snapsync_") {
					names = append(names, v)
				}
			}
			return true
		})
	}
	slices.Sort(names)
	return slices.Compact(names)
}

// describer records the names of the metrics of every collector
// registered through it.
type describer struct {
	prometheus.Registerer
	names []string
}

var fqName = regexp.MustCompile(`fqName: "([^"]+)"`)

func (d *describer) Register(c prometheus.Collector) error {
	ch := make(chan *prometheus.Desc, 64)
	go func() { c.Describe(ch); close(ch) }()
	for desc := range ch {
		if m := fqName.FindStringSubmatch(desc.String()); m != nil {
			d.names = append(d.names, m[1])
		}
	}
	return d.Registerer.Register(c)
}

// registeredNames returns the snapsync_ metrics New, WatchServer and
// WatchFreeSpace register.
func registeredNames(tb testing.TB) []string {
	tb.Helper()
	d := &describer{Registerer: prometheus.NewRegistry()}
	m, err := New(d, false)
	if err != nil {
		tb.Fatal(err)
	}
	if err := m.WatchServer(func() ServerState { return ServerState{} }); err != nil {
		tb.Fatal(err)
	}
	if err := m.WatchFreeSpace([]string{tb.TempDir()}); err != nil {
		tb.Fatal(err)
	}
	return d.names
}

// docRow is a row of the metrics table: its first cell a `snapsync_…` name.
var docRow = regexp.MustCompile("(?m)^\\| `(snapsync_[a-z0-9_]+)` \\|")

// documentedNames returns the names of the doc's metrics table, in order.
func documentedNames(tb testing.TB) []string {
	tb.Helper()
	doc, err := os.ReadFile(metricsDoc)
	if err != nil {
		tb.Fatal(err)
	}
	var names []string
	for _, m := range docRow.FindAllStringSubmatch(string(doc), -1) {
		names = append(names, m[1])
	}
	return names
}
