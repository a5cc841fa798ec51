package torch

import (
	"context"
	"fmt"
	"math"
	"testing"
	"time"
)

// RowLinear computes what Linear computes, and RowLinearGELU what Gelu of it
// computes, for one and several rows, with and without bias, in one chunk or
// many (the last one short): on the worker alone, shared with two helper
// threads, and with a helper that stalls 3 ms in every chunk (the worker takes
// its chunks over and the helper's late results are dropped).
func TestRowLinearMatchesLinear(t *testing.T) {
	defer testHelperPause.Store(0)
	for _, mode := range []struct {
		threads int
		pause   time.Duration
	}{{1, 0}, {3, 0}, {2, 3 * time.Millisecond}} {
		threads := mode.threads
		testHelperPause.Store(int64(mode.pause))
		before := takenOver.Load()
		for _, tc := range []struct {
			xShape []int64
			N      int64
			bias   bool
		}{
			{[]int64{1, 1, 64}, 1000, true},
			{[]int64{1, 64}, 1000, false},
			{[]int64{2, 3, 48}, 333, true},
			{[]int64{5, 48}, 70, false},
			{[]int64{48}, 129, true},
			{[]int64{1, 1, 64}, 5000, true},  // 5 chunks of 1024 rows
			{[]int64{1, 256}, 3001, false},   // 12 chunks of 256 rows
			{[]int64{3, 2, 512}, 1100, true}, // sgemm path, 9 chunks of 128 rows
			{[]int64{1, 64}, 50000, true},    // 49 chunks: long enough for a helper to join
		} {
			name := fmt.Sprintf("threads%d/pause%v/x%v/N%d/bias%v", threads, mode.pause, tc.xShape, tc.N, tc.bias)
			t.Run(name, func(t *testing.T) {
				SetRowLinearThreads(threads)
				defer SetRowLinearThreads(defaultRowLinearThreads())
				err := Do(context.Background(), func() error {
					defer NoGrad()()
					s := NewScope()
					defer s.Close()
					K := tc.xShape[len(tc.xShape)-1]
					x := s.Randn(tc.xShape, Float32, CPU)
					w := s.Randn([]int64{tc.N, K}, Float32, CPU)
					var b *Tensor
					if tc.bias {
						b = s.Randn([]int64{tc.N}, Float32, CPU)
					}
					if err := s.Err(); err != nil {
						return err
					}
					if !rowLinearEligible(x, w, b) {
						return fmt.Errorf("not eligible")
					}
					if rows := chunkRows(tc.N, 4*K); tc.N > 1000 && rows >= tc.N {
						return fmt.Errorf("one chunk of %d rows: the case does not test chunking", rows)
					}
					for _, gelu := range []bool{false, true} {
						got, want := s.RowLinear(x, w, b), s.Linear(x, w, b)
						if gelu {
							got, want = s.RowLinearGELU(x, w, b), s.Gelu(want, "none")
						}
						if err := s.Err(); err != nil {
							return err
						}
						if g, w := fmt.Sprint(got.Shape()), fmt.Sprint(want.Shape()); g != w {
							return fmt.Errorf("gelu %v: shape %s, want %s", gelu, g, w)
						}
						gv, _ := got.Float32s()
						wv, _ := want.Float32s()
						for i := range wv {
							if d := math.Abs(float64(gv[i] - wv[i])); d > 1e-4*(1+math.Abs(float64(wv[i]))) {
								return fmt.Errorf("gelu %v: element %d: %v, want %v", gelu, i, gv[i], wv[i])
							}
						}
					}
					return nil
				})
				if err != nil {
					t.Fatal(err)
				}
			})
		}
		if n := takenOver.Load() - before; mode.pause > 0 && n == 0 {
			t.Errorf("a helper stalled 3 ms in every chunk, yet the worker took over no chunk")
		} else {
			t.Logf("threads %d, helper pause %v: the worker took over %d chunks", threads, mode.pause, n)
		}
	}
}

// With autograd on and a weight that needs a gradient, RowLinear is Linear
// (the gradient flows), and inputs it cannot take fall back too.
func TestRowLinearFallsBack(t *testing.T) {
	err := Do(context.Background(), func() error {
		s := NewScope()
		defer s.Close()
		x := s.Randn([]int64{1, 8}, Float32, CPU)
		w := s.Randn([]int64{4, 8}, Float32, CPU)
		if err := s.Err(); err != nil {
			return err
		}
		if err := w.SetRequiresGrad(true); err != nil {
			return err
		}
		if rowLinearEligible(x, w, nil) {
			return fmt.Errorf("eligible with grad enabled and w requiring grad")
		}
		loss := s.Sum(s.RowLinear(x, w, nil), Float32)
		if err := s.Err(); err != nil {
			return err
		}
		if err := loss.Backward(); err != nil {
			return err
		}
		g, err := w.Grad()
		if err != nil || g == nil {
			return fmt.Errorf("no gradient for w: %v", err)
		}
		g.Free()
		big := s.Randn([]int64{RowLinearMaxRows + 1, 8}, Float32, CPU)
		half := s.To(x, Float64, CPU)
		restore := NoGrad()
		defer restore()
		if rowLinearEligible(big, w, nil) || rowLinearEligible(half, w, nil) || rowLinearEligible(s.Transpose(s.Randn([]int64{8, 2}, Float32, CPU), 0, 1), w, nil) {
			return fmt.Errorf("eligible: too many rows, float64 or non-contiguous input")
		}
		return s.Err()
	})
	if err != nil {
		t.Fatal(err)
	}
}
