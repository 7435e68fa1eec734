package prometheus

import (
	"log/slog"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/rulefmt"
	"github.com/prometheus/prometheus/promql/parser"
)

// documented are the metric names docs/OPERATIONS.md lists in its table of
// the metrics the alerts rely on.
func documented(t *testing.T) []string {
	t.Helper()
	b, err := os.ReadFile("../../docs/OPERATIONS.md")
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, m := range regexp.MustCompile("(?m)^\\| `(snapsync_[a-z_]+)`").FindAllStringSubmatch(string(b), -1) {
		names = append(names, m[1])
	}
	if len(names) == 0 {
		t.Fatal("docs/OPERATIONS.md documents no snapsync_ metric")
	}
	return names
}

func TestRules(t *testing.T) {
	t.Parallel()
	b, err := os.ReadFile("snapsync-rules.yaml")
	if err != nil {
		t.Fatal(err)
	}
	p := parser.NewParser(parser.Options{})
	groups, errs := rulefmt.Parse(b, false, model.UTF8Validation, p, slog.New(slog.DiscardHandler))
	if len(errs) > 0 {
		t.Fatalf("rulefmt: %v", errs)
	}
	known := documented(t)
	alerts := 0
	for _, g := range groups.Groups {
		for _, r := range g.Rules {
			alerts++
			if r.Alert == "" || r.Labels["severity"] == "" || r.Annotations["summary"] == "" {
				t.Errorf("rule %q: needs alert, severity and summary", r.Alert)
			}
			expr, err := p.ParseExpr(r.Expr)
			if err != nil {
				t.Fatalf("%s: %v", r.Alert, err)
			}
			parser.Inspect(expr, func(n parser.Node, _ []parser.Node) error {
				vs, ok := n.(*parser.VectorSelector)
				if !ok {
					return nil
				}
				if strings.HasPrefix(vs.Name, "snapsync_") && !slices.Contains(known, vs.Name) {
					t.Errorf("%s uses %s, which docs/OPERATIONS.md does not list", r.Alert, vs.Name)
				} else if !strings.HasPrefix(vs.Name, "snapsync_") && vs.Name != "up" {
					t.Errorf("%s uses %s", r.Alert, vs.Name)
				}
				return nil
			})
		}
	}
	if alerts < 5 {
		t.Errorf("%d alerts", alerts)
	}
}
