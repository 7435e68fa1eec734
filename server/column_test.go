package server

import "testing"

func TestColumn(t *testing.T) {
	t.Parallel()
	for _, n := range []int{0, 1, 1<<columnShift - 1, 1 << columnShift, 1<<columnShift + 1, 3<<columnShift + 7} {
		var c column[int64]
		for i := range n {
			c.add(int64(i) * 3)
		}
		if c.len() != n {
			t.Fatalf("len %d, want %d", c.len(), n)
		}
		for i := range n {
			if c.at(i) != int64(i)*3 {
				t.Fatalf("n %d: at(%d) = %d", n, i, c.at(i))
			}
		}
		if n > 0 {
			c.set(n-1, -1)
			if c.at(n-1) != -1 {
				t.Fatalf("set did not stick")
			}
		}
		if m := makeColumn[int32](n); m.len() != n || (n > 0 && m.at(n-1) != 0) {
			t.Fatalf("makeColumn(%d): len %d", n, m.len())
		}
	}
}
