package reason

import (
	"go/ast"
	"go/parser"
	"go/token"
	"strconv"
	"strings"
	"testing"
)

// declared returns the value of every reason constant of reason.go, in
// declaration order: each string constant but Domain and the Meta* keys.
func declared(tb testing.TB) []string {
	tb.Helper()
	f, err := parser.ParseFile(token.NewFileSet(), "reason.go", nil, 0)
	if err != nil {
		tb.Fatal(err)
	}
	var names []string
	for _, d := range f.Decls {
		gd, ok := d.(*ast.GenDecl)
		if !ok || gd.Tok != token.CONST {
			continue
		}
		for _, spec := range gd.Specs {
			vs := spec.(*ast.ValueSpec)
			for i, id := range vs.Names {
				if id.Name == "Domain" || strings.HasPrefix(id.Name, "Meta") {
					continue
				}
				lit, ok := vs.Values[i].(*ast.BasicLit)
				if !ok || lit.Kind != token.STRING {
					tb.Fatalf("constant %s is not a string literal", id.Name)
				}
				v, err := strconv.Unquote(lit.Value)
				if err != nil {
					tb.Fatal(err)
				}
				names = append(names, v)
			}
		}
	}
	return names
}

// TestAllMatchesConstants: All lists every constant of reason.go, once, in
// the order they are declared, each with a code and a doc.
func TestAllMatchesConstants(t *testing.T) {
	want := declared(t)
	if len(want) < 30 {
		t.Fatalf("found %d reason constants in reason.go; the parse is broken", len(want))
	}
	var got []string
	for _, info := range All() {
		got = append(got, info.Name)
		if info.Code == 0 || info.Doc == "" {
			t.Errorf("%s: code %v, doc %q: both are required", info.Name, info.Code, info.Doc)
		}
	}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Fatalf("All() and reason.go differ:\nAll():     %v\nreason.go: %v", got, want)
	}
}
