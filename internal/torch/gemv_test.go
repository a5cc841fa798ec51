package torch

import (
	"context"
	"fmt"
	"math"
	"testing"
)

// The one-row kernel (UseGEMVKernel) computes what BLAS computes within
// float32 rounding, for row lengths that are and are not multiples of its
// 8 lanes, row counts that are and are not multiples of its 4-row blocks,
// with and without bias, in one chunk and many; both are checked against
// the float64 product.
func TestGEMVKernelMatchesBLAS(t *testing.T) {
	defer UseGEMVKernel(true)
	if !UseGEMVKernel(true) {
		t.Skip("no one-row kernel for this CPU: RowLinear uses BLAS only (TestRowLinearMatchesLinear covers it)")
	}
	err := Do(context.Background(), func() error {
		defer NoGrad()()
		for _, tc := range []struct {
			K, N int64
			bias bool
		}{{1, 1, false}, {7, 5, true}, {8, 4, false}, {13, 3, true}, {61, 1001, false}, {896, 2048, true}, {4864, 131, false}} {
			s := NewScope()
			x := s.Randn([]int64{1, 1, tc.K}, Float32, CPU)
			w := s.Randn([]int64{tc.N, tc.K}, Float32, CPU)
			var b *Tensor
			if tc.bias {
				b = s.Randn([]int64{tc.N}, Float32, CPU)
			}
			UseGEMVKernel(false)
			blas := s.RowLinear(x, w, b)
			UseGEMVKernel(true)
			own := s.RowLinear(x, w, b)
			if err := s.Err(); err != nil {
				s.Close()
				return err
			}
			bv, _ := blas.Float32s()
			ov, _ := own.Float32s()
			xv, _ := x.Float32s()
			wm, _ := w.Float32s()
			var bb []float32
			if b != nil {
				bb, _ = b.Float32s()
			}
			wv := make([]float64, tc.N)
			for r := range wv {
				for k, xk := range xv {
					wv[r] += float64(wm[int64(r)*tc.K+int64(k)]) * float64(xk)
				}
				if bb != nil {
					wv[r] += float64(bb[r])
				}
			}
			// float32 accumulation over K terms of size ~1 (randn): a few
			// ulps of √K.
			tol := 1e-5 * math.Sqrt(float64(tc.K)) * 4
			for i, v := range wv {
				if d := math.Abs(float64(ov[i]) - v); d > tol*(1+math.Abs(v)) {
					s.Close()
					return fmt.Errorf("K %d N %d bias %v: row %d: kernel %v, float64 %v", tc.K, tc.N, tc.bias, i, ov[i], v)
				}
				if d := math.Abs(float64(bv[i]) - v); d > tol*(1+math.Abs(v)) {
					s.Close()
					return fmt.Errorf("K %d N %d bias %v: row %d: BLAS %v, float64 %v", tc.K, tc.N, tc.bias, i, bv[i], v)
				}
			}
			s.Close()
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
