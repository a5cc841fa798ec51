package torch

import (
	"context"
	"fmt"
	"testing"
)

// Unbind returns what Select returns for each index, as views, and its
// backward delivers each slice's gradient to its place; a bad dimension is
// an error, not a crash.
func TestUnbind(t *testing.T) {
	err := Do(context.Background(), func() error {
		s := NewScope()
		defer s.Close()
		x := s.Float32([]float32{1, 2, 3, 4, 5, 6}, 2, 3)
		if err := x.SetRequiresGrad(true); err != nil {
			return err
		}
		parts := s.Unbind(x, 1)
		if len(parts) != 3 {
			return fmt.Errorf("%d parts, want 3", len(parts))
		}
		for i, p := range parts {
			got, err := p.Float32s()
			if err != nil {
				return err
			}
			want, err := s.Select(x, 1, int64(i)).Float32s()
			if err != nil {
				return err
			}
			if fmt.Sprint(got) != fmt.Sprint(want) {
				return fmt.Errorf("part %d: %v, want %v", i, got, want)
			}
		}
		// loss = 1·Σp0 + 2·Σp1 + 3·Σp2: the gradient of column j is j+1.
		loss := s.Add(s.Add(s.Sum(parts[0], Float32), s.MulScalar(s.Sum(parts[1], Float32), 2)), s.MulScalar(s.Sum(parts[2], Float32), 3))
		if err := s.Err(); err != nil {
			return err
		}
		if err := loss.Backward(); err != nil {
			return err
		}
		g, err := x.Grad()
		if err != nil {
			return err
		}
		gv, err := s.Own(g).Float32s()
		if err != nil {
			return err
		}
		if fmt.Sprint(gv) != "[1 2 3 1 2 3]" {
			return fmt.Errorf("gradient %v, want [1 2 3 1 2 3]", gv)
		}
		bad := NewScope()
		defer bad.Close()
		if bad.Unbind(x, 5); bad.Err() == nil {
			return fmt.Errorf("dimension 5 of a 2-d tensor: no error")
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
