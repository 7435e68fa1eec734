package durable

import (
	"path/filepath"
)

// DirInfo is one entry of a directory listed by ReadDirInfo: its name and
// what it is (not following a symlink).
type DirInfo struct {
	Name string
	Info
}

// readDirInfoByName lists dir through fsys and describes each entry by its
// path: the portable way, for an FS without directory handles.
func readDirInfoByName(fsys FS, dir string) ([]DirInfo, error) {
	entries, err := fsys.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	out := make([]DirInfo, 0, len(entries))
	for _, e := range entries {
		info, err := fsys.Lstat(filepath.Join(dir, e.Name()))
		if err != nil {
			return nil, err
		}
		out = append(out, DirInfo{Name: e.Name(), Info: info})
	}
	return out, nil
}
