package durable

import (
	"os"
	"testing"
)

func writeFile(tb testing.TB, p, content string) {
	tb.Helper()
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		tb.Fatal(err)
	}
}

func readFile(tb testing.TB, p string) string {
	tb.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		tb.Fatal(err)
	}
	return string(b)
}

func mkdir(tb testing.TB, p string) {
	tb.Helper()
	if err := os.Mkdir(p, 0o755); err != nil {
		tb.Fatal(err)
	}
}
