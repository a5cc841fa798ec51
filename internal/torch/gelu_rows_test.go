package torch

import (
	"math"
	"testing"
)

// Both GELU kernels of RowLinearGELU stay within 2e-7·(1 + |x|) of
// x·½·(1 + erf(x/√2)) in float64 over inputs from −40 to 40 (where e^−z²
// underflows), on both sides of 0, for every tail length of the 8-wide
// kernel.
func TestGELURowsMatchesErf(t *testing.T) {
	defer setGELURowsKernel(0)
	var xs []float32
	for x := -40.0; x <= 40; x += 0.00173 {
		xs = append(xs, float32(x))
	}
	xs = append(xs, 0, float32(math.Copysign(0, -1)), 1e-30, -1e-30, 87, -87, 1e4, -1e4)
	for _, k := range []int{1, 2} {
		if !setGELURowsKernel(k) {
			t.Logf("kernel %d: this CPU lacks it", k)
			continue
		}
		for _, n := range []int{len(xs), 1, 7, 9, 15} {
			v := append([]float32(nil), xs[:n]...)
			geluRows(v)
			for i, x := range xs[:n] {
				want := float64(x) * 0.5 * (1 + math.Erf(float64(x)/math.Sqrt2))
				if d := math.Abs(float64(v[i]) - want); d > 2e-7*(1+math.Abs(float64(x))) || math.IsNaN(float64(v[i])) {
					t.Fatalf("kernel %d, %d values: gelu(%v) = %v, want %v", k, n, x, v[i], want)
				}
			}
		}
	}
}
