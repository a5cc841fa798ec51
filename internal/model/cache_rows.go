package model

import (
	"fmt"

	"github.com/golamini/golamini/internal/torch"
)

// Row operations for a cache shared by independent sequences (continuous
// batching): each row is one sequence, rows join and leave between steps,
// and each row's filled positions are tracked by the caller (a Mask passed
// to Forward says which columns each row may attend). Len is the next
// column every row writes.

// Rows returns a cache over the first n rows of c, sharing its buffers: a
// Forward over [n, T] ids writes into c's rows 0..n−1. Free the view with
// Free (its buffers stay c's). Set the view's Len, and c's after the call.
func (c *Cache) Rows(n int64) (*Cache, error) {
	s := torch.NewScope()
	defer s.Close()
	v := &Cache{Len: c.Len, Capacity: c.Capacity, layers: make([]layerCache, len(c.layers))}
	for i, l := range c.layers {
		if B := l.k.Shape()[0]; n < 1 || n > B {
			return nil, fmt.Errorf("model: cache view of %d rows out of %d", n, B)
		}
		v.layers[i].k = s.Keep(s.Narrow(l.k, 0, 0, n)) // [n, nh, Capacity, hs]
		v.layers[i].v = s.Keep(s.Narrow(l.v, 0, 0, n))
	}
	if err := s.Err(); err != nil {
		v.Free()
		return nil, fmt.Errorf("model: cache view: %w", err)
	}
	return v, nil
}

// Zero fills every buffer with zeros. NewCache leaves them uninitialised,
// which is right when every column a query can see was written first; a
// batch whose rows skip columns (masked out per row) must zero them once:
// attention weighs a masked column by 0, and 0 × NaN, which uninitialised
// memory may hold, is NaN.
func (c *Cache) Zero() error {
	s := torch.NewScope()
	defer s.Close()
	for i := range c.layers {
		s.ZeroInPlace(c.layers[i].k)
		s.ZeroInPlace(c.layers[i].v)
	}
	if err := s.Err(); err != nil {
		return fmt.Errorf("model: zero KV cache: %w", err)
	}
	return nil
}

// Batch is the number of rows of c.
func (c *Cache) Batch() int64 {
	if len(c.layers) == 0 {
		return 0
	}
	return c.layers[0].k.Shape()[0]
}

// CopyRow copies columns [0, cols) of src's row srcRow into c's row dst
// (columns [0, cols)), in every layer: a sequence prefilled alone joins a
// batch. src may be c itself (a row moved into a freed slot) when the rows
// differ.
func (c *Cache) CopyRow(dst int64, src *Cache, srcRow, cols int64) error {
	if len(src.layers) != len(c.layers) {
		return fmt.Errorf("model: copy cache row: %d layers into %d", len(src.layers), len(c.layers))
	}
	if src == c && srcRow == dst {
		return nil
	}
	if cols > c.Capacity || cols > src.Capacity || cols < 0 {
		return fmt.Errorf("model: copy cache row: %d columns (capacities %d, %d)", cols, src.Capacity, c.Capacity)
	}
	if cols == 0 {
		return nil
	}
	s := torch.NewScope()
	defer s.Close()
	for i := range c.layers {
		d, f := &c.layers[i], &src.layers[i]
		s.Copy(s.Narrow(s.Narrow(d.k, 0, dst, 1), 2, 0, cols), s.Narrow(s.Narrow(f.k, 0, srcRow, 1), 2, 0, cols)) // [1, nh, cols, hs]
		s.Copy(s.Narrow(s.Narrow(d.v, 0, dst, 1), 2, 0, cols), s.Narrow(s.Narrow(f.v, 0, srcRow, 1), 2, 0, cols))
	}
	if err := s.Err(); err != nil {
		return fmt.Errorf("model: copy cache row %d → %d: %w", srcRow, dst, err)
	}
	return nil
}

// Run is a span of columns [Start, Start+Len).
type Run struct{ Start, Len int64 }

// CompactRow moves the runs of row (in ascending order, not overlapping) to
// the left end of the row, one after another, in every layer, and returns
// how many columns they fill. Copies go in pieces no longer than the
// distance moved, so no piece reads columns already overwritten.
func (c *Cache) CompactRow(row int64, runs []Run) (int64, error) {
	s := torch.NewScope()
	defer s.Close()
	at := int64(0)
	for _, r := range runs {
		if r.Start < at || r.Len < 0 || r.Start+r.Len > c.Capacity {
			return 0, fmt.Errorf("model: compact cache row %d: bad run %+v after column %d", row, r, at)
		}
		shift := r.Start - at
		if shift == 0 {
			at += r.Len
			continue
		}
		for k := int64(0); k < r.Len; k += shift {
			m := min(shift, r.Len-k)
			for i := range c.layers {
				l := &c.layers[i]
				for _, t := range []*torch.Tensor{l.k, l.v} {
					rowT := s.Narrow(t, 0, row, 1)                                      // [1, nh, Capacity, hs]
					s.Copy(s.Narrow(rowT, 2, at+k, m), s.Narrow(rowT, 2, r.Start+k, m)) // [1, nh, m, hs]
				}
			}
		}
		at += r.Len
	}
	if err := s.Err(); err != nil {
		return 0, fmt.Errorf("model: compact cache row %d: %w", row, err)
	}
	return at, nil
}
