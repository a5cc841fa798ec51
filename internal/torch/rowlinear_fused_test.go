package torch

import (
	"context"
	"fmt"
	"math"
	"testing"
)

// RowLinearCat computes what Cat of Linears computes, RowLinearSwiGLU what
// Mul(Silu(Linear), Linear) computes and RMSNormRows what the six libtorch
// ops of RMSNorm compute, for one and several rows, with and without
// biases, in one chunk or many, on the worker alone and shared with helper
// threads.
func TestRowLinearFusedMatchOps(t *testing.T) {
	for _, threads := range []int{1, 3} {
		for _, tc := range []struct {
			xShape []int64
			Ns     []int64
			bias   bool
		}{
			{[]int64{1, 1, 64}, []int64{128, 32, 32}, true},
			{[]int64{1, 1, 576}, []int64{576, 192, 192}, false}, // SmolLM2's q|k|v: several chunks each
			{[]int64{3, 48}, []int64{70, 333}, true},            // sgemm path, short last chunks
			{[]int64{1, 64}, []int64{5000}, false},
		} {
			t.Run(fmt.Sprintf("threads%d/x%v/N%v/bias%v", threads, tc.xShape, tc.Ns, tc.bias), func(t *testing.T) {
				SetRowLinearThreads(threads)
				defer SetRowLinearThreads(defaultRowLinearThreads())
				err := Do(context.Background(), func() error {
					defer NoGrad()()
					s := NewScope()
					defer s.Close()
					K := tc.xShape[len(tc.xShape)-1]
					x := s.Randn(tc.xShape, Float32, CPU)
					var ws, bs, ys []*Tensor
					for _, N := range tc.Ns {
						// Scaled as layers initialise them, so outputs are O(1): with
						// unit weights SwiGLU multiplies two sums of size √K, and
						// float32 rounding of those (different summation orders here
						// and in libtorch) exceeds a tolerance relative to the output.
						ws = append(ws, s.MulScalar(s.Randn([]int64{N, K}, Float32, CPU), 1/math.Sqrt(float64(K))))
						var b *Tensor
						if tc.bias {
							b = s.Randn([]int64{N}, Float32, CPU)
						}
						bs = append(bs, b)
						ys = append(ys, s.Linear(x, ws[len(ws)-1], b))
					}
					checks := [][2]*Tensor{{s.RowLinearCat(x, ws, bs), s.Cat(-1, ys...)}}
					if len(ws) == 3 {
						g, u := ws[1], ws[2]
						checks = append(checks, [2]*Tensor{s.RowLinearSwiGLU(x, g, bs[1], u, bs[2]), s.Mul(s.Silu(ys[1]), ys[2])})
					}
					w := s.Randn([]int64{K}, Float32, CPU)
					ms := s.MeanDim(s.Square(x), true, -1)
					checks = append(checks, [2]*Tensor{s.RMSNormRows(x, w, 1e-6), s.Mul(w, s.Mul(x, s.Rsqrt(s.AddScalar(ms, 1e-6))))})
					if err := s.Err(); err != nil {
						return err
					}
					for k, c := range checks {
						if g, w := fmt.Sprint(c[0].Shape()), fmt.Sprint(c[1].Shape()); g != w {
							return fmt.Errorf("check %d: shape %s, want %s", k, g, w)
						}
						gv, _ := c[0].Float32s()
						wv, _ := c[1].Float32s()
						for i := range wv {
							if d := math.Abs(float64(gv[i] - wv[i])); d > 1e-4*(1+math.Abs(float64(wv[i]))) {
								return fmt.Errorf("check %d: element %d: %v, want %v", k, i, gv[i], wv[i])
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
	}
}
