package e2e

import (
	"crypto/sha256"
	"encoding/hex"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"
)

// fileInfo is what a tree comparison looks at for one regular file.
type fileInfo struct {
	Hash string
	Ino  uint64
	Size int64
}

// treeFiles returns every regular file under root by relative path. Symlinks
// and other types fail the test: an installed tree holds neither.
func treeFiles(tb testing.TB, root string) map[string]fileInfo {
	tb.Helper()
	out := map[string]fileInfo{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		if !d.Type().IsRegular() {
			tb.Fatalf("%s is not a regular file (%v)", p, d.Type())
		}
		rel, _ := filepath.Rel(root, p)
		fi, err := os.Lstat(p)
		if err != nil {
			return err
		}
		out[filepath.ToSlash(rel)] = fileInfo{Hash: hashFile(tb, p), Ino: fi.Sys().(*syscall.Stat_t).Ino, Size: fi.Size()}
		return nil
	})
	if err != nil {
		tb.Fatal(err)
	}
	return out
}

func hashFile(tb testing.TB, p string) string {
	tb.Helper()
	f, err := os.Open(p)
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		tb.Fatal(err)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// sameContent reports the first difference between two trees' file sets and
// contents, or "" when they hold the same paths with the same bytes.
func sameContent(a, b map[string]fileInfo) string {
	for p, fa := range a {
		fb, ok := b[p]
		if !ok {
			return "missing " + p
		}
		if fa.Hash != fb.Hash {
			return "content differs: " + p
		}
	}
	for p := range b {
		if _, ok := a[p]; !ok {
			return "extra " + p
		}
	}
	return ""
}

// linkGroups returns the sets of paths that share an inode (groups of two or
// more), canonically sorted, so two trees' hard-link structure can be compared.
func linkGroups(files map[string]fileInfo) []string {
	byIno := map[uint64][]string{}
	for p, f := range files {
		byIno[f.Ino] = append(byIno[f.Ino], p)
	}
	var groups []string
	for _, g := range byIno {
		if len(g) > 1 {
			sort.Strings(g)
			groups = append(groups, strings.Join(g, ","))
		}
	}
	sort.Strings(groups)
	return groups
}

// diskUsage returns the bytes of distinct inodes under root (what du counts).
func diskUsage(tb testing.TB, root string) int64 {
	tb.Helper()
	seen := map[uint64]bool{}
	var total int64
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, err := os.Lstat(p)
		if err != nil {
			return err
		}
		st := fi.Sys().(*syscall.Stat_t)
		if !seen[st.Ino] {
			seen[st.Ino] = true
			total += st.Blocks * 512
		}
		return nil
	})
	if err != nil {
		tb.Fatal(err)
	}
	return total
}

// copyTree copies a tree (no links) so a test can keep a pristine original.
func copyTree(tb testing.TB, src, dst string) {
	tb.Helper()
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		target := filepath.Join(dst, rel)
		if d.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(target, b, 0o644)
	})
	if err != nil {
		tb.Fatal(err)
	}
}
