package torch

import (
	"context"
	"fmt"
	"math"
	"testing"
)

// RowLinear's multi-row products equal Linear's with either kernel (BLAS's
// sgemm and the AVX2 one of gemm_rows.c): every row count from 2 to
// RowLinearMaxRows (tiles of 4 input rows and the 1- to 3-row rests; the
// 4-weight-row tiles of 2 rows), row lengths that are and are not a
// multiple of 8, weights whose row count is not a multiple of 3 or 4 nor of
// the chunk size, with and without bias.
func TestGemmRowsMatchesLinear(t *testing.T) {
	defer setGemmRowsKernel(0)
	for _, k := range []int{1, 2} {
		if !setGemmRowsKernel(k) {
			t.Logf("kernel %d: this CPU lacks it", k)
			continue
		}
		for m := int64(2); m <= RowLinearMaxRows; m++ {
			for _, sh := range [][2]int64{{512, 1030}, {13, 7}, {100, 403}, {64, 260}} {
				K, N := sh[0], sh[1]
				for _, bias := range []bool{false, true} {
					name := fmt.Sprintf("kernel%d/m%d/K%d/N%d/bias%v", k, m, K, N, bias)
					err := Do(context.Background(), func() error {
						defer NoGrad()()
						s := NewScope()
						defer s.Close()
						x := s.Randn([]int64{m, K}, Float32, CPU)
						w := s.Randn([]int64{N, K}, Float32, CPU)
						var b *Tensor
						if bias {
							b = s.Randn([]int64{N}, Float32, CPU)
						}
						got, want := s.RowLinear(x, w, b), s.Linear(x, w, b)
						if err := s.Err(); err != nil {
							return err
						}
						gv, _ := got.Float32s()
						wv, _ := want.Float32s()
						for i := range wv {
							if d := math.Abs(float64(gv[i] - wv[i])); d > 1e-4*(1+math.Abs(float64(wv[i]))) {
								return fmt.Errorf("element %d: %v, want %v", i, gv[i], wv[i])
							}
						}
						return nil
					})
					if err != nil {
						t.Fatalf("%s: %v", name, err)
					}
				}
			}
		}
	}
}
