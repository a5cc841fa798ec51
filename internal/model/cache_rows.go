package model

import (
	"fmt"

	"github.com/golamini/golamini/internal/torch"
)

// Row operations for a cache shared by independent sequences (continuous
// batching): each row is one sequence, rows join and leave between steps,
// and each row holds its own number of positions, tracked by the caller and
// passed to Forward as Pass.RowLens.

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
// batch whose general path masks out the columns past each row's length
// must zero them once: attention weighs a masked column by 0, and 0 × NaN,
// which uninitialised memory may hold, is NaN.
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

// rowLens checks a Pass with RowLens over ids [B, T] and fills in what the
// general path of the blocks needs: each row's position and a mask [B, 1,
// 1, S] letting row b see columns 0…RowLens[b] of the S = longest+1 the
// attention reads (with a sliding window only its last Window of them, as
// attentionMask). It returns the longest length (the blocks' past). The
// fused attention (torch.RowAttention) reads RowLens itself.
func (m *Model) rowLens(s *torch.Scope, B, T int64, p *Pass) (int64, bool) {
	c := p.Cache
	if c == nil || T != 1 || int64(len(p.RowLens)) != B || p.Positions != nil || p.Mask != nil || B > c.Batch() {
		s.Failf("model: row lengths need a cache of at least %d rows, one new token per row, one length per row (%d) and no positions or mask", B, len(p.RowLens))
		return 0, false
	}
	var top int64
	for b, n := range p.RowLens {
		if n < 0 || n >= c.Capacity {
			s.Failf("model: row %d: length %d outside the KV cache's %d columns", b, n, c.Capacity)
			return 0, false
		}
		top = max(top, n)
	}
	S := top + 1
	raw := make([]byte, B*S)
	for b, n := range p.RowLens {
		lo := int64(0)
		if W := int64(m.Config.Window); W > 0 {
			lo = max(0, n-W+1)
		}
		for j := lo; j <= n; j++ {
			raw[int64(b)*S+j] = 1
		}
	}
	mask, err := torch.FromRaw(raw, torch.Bool, B, 1, 1, S) // [B, 1, 1, S]
	if err != nil {
		s.Fail(err)
		return 0, false
	}
	p.Mask = s.Own(mask)
	p.Positions = s.Int64(p.RowLens, B, 1) // [B, 1]
	return top, true
}
