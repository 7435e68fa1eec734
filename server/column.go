package server

// columnShift sets a column's block: 16Ki values.
const columnShift = 14

// column is an append-only list of values kept in fixed blocks, so growing
// it never copies what it holds, and wastes at most one block: a million
// stat keys cost 48 MiB, not the 100 MiB and more a doubling slice passes
// through (docs/DESIGN.md invariant 5).
type column[T any] struct {
	blocks [][]T
	n      int
}

func (c *column[T]) len() int { return c.n }

func (c *column[T]) add(v T) {
	if c.n>>columnShift == len(c.blocks) {
		c.blocks = append(c.blocks, make([]T, 0, 1<<columnShift))
	}
	b := &c.blocks[len(c.blocks)-1]
	*b = append(*b, v)
	c.n++
}

func (c *column[T]) at(i int) T { return c.blocks[i>>columnShift][i&(1<<columnShift-1)] }

// set replaces value i, which must exist.
func (c *column[T]) set(i int, v T) { c.blocks[i>>columnShift][i&(1<<columnShift-1)] = v }

// makeColumn returns a column of n zero values.
func makeColumn[T any](n int) column[T] {
	var c column[T]
	var zero T
	for range n {
		c.add(zero)
	}
	return c
}
