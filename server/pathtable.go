package server

import (
	"slices"
	"strings"
)

// pathTable holds many paths in one byte slice: path i is
// bytes[ends[i-1]:ends[i]]. It costs a path's bytes and 4 more, not a
// string header and an allocation each.
type pathTable struct {
	bytes []byte
	ends  column[uint32]
}

func (p *pathTable) len() int { return p.ends.len() }

func (p *pathTable) add(s string) {
	p.bytes = append(p.bytes, s...)
	p.ends.add(uint32(len(p.bytes)))
}

// at returns path i, sharing the table's bytes (no copy).
func (p *pathTable) at(i int) string {
	start := uint32(0)
	if i > 0 {
		start = p.ends.at(i - 1)
	}
	b := p.bytes[start:p.ends.at(i)]
	if len(b) == 0 {
		return ""
	}
	return unsafeString(b)
}

// order returns the indexes of the paths in byte order, and whether that
// moves any (if not, it returns no indexes).
func (p *pathTable) order() ([]int32, bool) {
	sorted := true
	for i := 1; i < p.len() && sorted; i++ {
		sorted = p.at(i-1) < p.at(i)
	}
	if sorted {
		return nil, false
	}
	idx := make([]int32, p.len())
	for i := range idx {
		idx[i] = int32(i)
	}
	slices.SortFunc(idx, func(a, b int32) int { return strings.Compare(p.at(int(a)), p.at(int(b))) })
	return idx, true
}

// permute returns the table with path order[i] at i.
func (p *pathTable) permute(order []int32) pathTable {
	q := pathTable{bytes: make([]byte, 0, len(p.bytes))}
	for _, i := range order {
		q.add(p.at(int(i)))
	}
	return q
}
