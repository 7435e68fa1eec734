package durable

import (
	"os"
	"path/filepath"
	"testing"
)

func TestFileIDSame(t *testing.T) {
	t.Parallel()
	a := FileID{Dev: 2049, Ino: 131, Birth: 1700000000123456789}
	testCases := []struct {
		name string
		b    FileID
		want bool
	}{
		{"equal", a, true},
		{"reused inode: another birth", FileID{Dev: 2049, Ino: 131, Birth: 1700000000999999999}, false},
		{"recorded without birth", FileID{Dev: 2049, Ino: 131}, true},
		{"other inode", FileID{Dev: 2049, Ino: 132, Birth: a.Birth}, false},
		{"other device", FileID{Dev: 2050, Ino: 131, Birth: a.Birth}, false},
		{"zero", FileID{}, false},
	}
	for _, tc := range testCases {
		if got := a.Same(tc.b); got != tc.want || tc.b.Same(a) != tc.want {
			t.Errorf("%s: Same %v, want %v", tc.name, got, tc.want)
		}
	}
	if (FileID{}).Same(FileID{}) {
		t.Error("the zero FileID names no file")
	}
}

// TestIdentifyRecreated deletes a file and makes another at the same path
// until the inode number is reused (ext4 and tmpfs reuse it at once): where
// the filesystem records birth times, the two identities differ.
func TestIdentifyRecreated(t *testing.T) {
	t.Parallel()
	p := filepath.Join(t.TempDir(), "state.json")
	writeFile(t, p, "first")
	first, err := Identify(p)
	if err != nil {
		t.Fatal(err)
	}
	if first.Birth == 0 {
		t.Skip("this filesystem records no birth time")
	}
	for range 100 {
		if err := os.Remove(p); err != nil {
			t.Fatal(err)
		}
		writeFile(t, p, "second")
		second, err := Identify(p)
		if err != nil {
			t.Fatal(err)
		}
		if second.Ino != first.Ino {
			continue // not reused this time
		}
		if second.Same(first) || second == first {
			t.Fatalf("recreated file has the same identity %s", second)
		}
		return
	}
	t.Skip("the inode number was never reused")
}

// TestIdentifyFile: an open file's identity is the one its path has.
func TestIdentifyFile(t *testing.T) {
	t.Parallel()
	p := filepath.Join(t.TempDir(), "f")
	writeFile(t, p, "x")
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	byFile, err := IdentifyFile(f)
	if err != nil {
		t.Fatal(err)
	}
	byPath, err := Identify(p)
	if err != nil || byFile != byPath {
		t.Fatalf("by file %s, by path %s (%v)", byFile, byPath, err)
	}
	fi, err := f.Stat()
	if err != nil {
		t.Fatal(err)
	}
	if id := InfoID(fi); !id.Same(byPath) || id.Birth != 0 {
		t.Fatalf("from FileInfo %s, by path %s", id, byPath)
	}
}
