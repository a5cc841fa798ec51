package torch

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// ArgmaxLinear returns what Argmax(Linear(x, w)) returns, on one and several
// rows, row lengths with and without a vector tail, on the worker alone and
// shared with a helper, while computing only a few rows of w exactly; ties go
// to the first index; inputs it does not screen fall back.
func TestArgmaxLinearMatchesArgmaxOfLinear(t *testing.T) {
	for _, threads := range []int{1, 2} {
		for _, tc := range []struct {
			rows, N, K int64
			xScale     float64
		}{
			{1, 50304, 512, 1},  // pythia-70m's head
			{1, 50304, 512, 30}, // hidden states after a final layer norm are large
			{3, 5000, 64, 1},
			{1, 3001, 100, 5}, // K not a multiple of the vector width
			{16, 777, 48, 1},  // the most rows it screens; N not a multiple of 4
			{16, 50304, 512, 30},
			{5, 4003, 100, 1}, // several rows: the 7-bit screen where the CPU prefers it; a tail of K and of N
		} {
			name := fmt.Sprintf("threads%d/rows%d/N%d/K%d/scale%g", threads, tc.rows, tc.N, tc.K, tc.xScale)
			t.Run(name, func(t *testing.T) {
				SetRowLinearThreads(threads)
				defer SetRowLinearThreads(defaultRowLinearThreads())
				err := Do(context.Background(), func() error {
					defer NoGrad()()
					s := NewScope()
					defer s.Close()
					rng := rand.New(rand.NewPCG(uint64(tc.N), uint64(tc.K)))
					wv := make([]float32, tc.N*tc.K)
					for i := range wv {
						wv[i] = float32(rng.NormFloat64() * 0.02)
					}
					xv := make([]float32, tc.rows*tc.K)
					for i := range xv {
						xv[i] = float32(rng.NormFloat64() * tc.xScale)
					}
					w := scopeFloat32(s, wv, tc.N, tc.K)
					x := scopeFloat32(s, xv, tc.rows, tc.K)
					if err := s.Err(); err != nil {
						return err
					}
					ix, err := NewArgmaxIndex(w)
					if err != nil {
						return err
					}
					defer ix.Free()
					want, err := s.Argmax(s.Linear(x, w, nil), 1, false).Int64s()
					if err != nil {
						return err
					}
					got, computed, ok := s.argmaxScreened(x, ix, tc.rows)
					if !ok || s.Err() != nil {
						return fmt.Errorf("screened path refused finite input: %v", s.Err())
					}
					gotIDs, err := got.Int64s()
					if err != nil {
						return err
					}
					if fmt.Sprint(gotIDs) != fmt.Sprint(want) {
						return fmt.Errorf("argmax %v, want %v", gotIDs, want)
					}
					if perRow := computed / tc.rows; perRow > max(8, tc.N/100) {
						return fmt.Errorf("computed %d rows exactly per input row of %d: the screen does not screen", perRow, tc.N)
					}
					t.Logf("rows computed exactly: %d for %d inputs", computed, tc.rows)

					// A copy of the winning row placed earlier wins (first maximum).
					r := want[0]
					if r > 0 {
						copy(wv[:tc.K], wv[r*tc.K:(r+1)*tc.K])
						w2 := scopeFloat32(s, wv, tc.N, tc.K)
						ix2, err := NewArgmaxIndex(w2)
						if err != nil {
							return err
						}
						defer ix2.Free()
						got2, err := s.ArgmaxLinear(x, ix2).Int64s()
						if err != nil {
							return err
						}
						want2, err := s.Argmax(s.Linear(x, w2, nil), 1, false).Int64s()
						if err != nil {
							return err
						}
						if got2[0] != 0 || want2[0] != 0 {
							return fmt.Errorf("tie: ArgmaxLinear %d, Argmax(Linear) %d, want 0 from both", got2[0], want2[0])
						}
					}
					return s.Err()
				})
				if err != nil {
					t.Fatal(err)
				}
			})
		}
	}
}

// The portable, AVX2 and VNNI kernels compute the same scores (exact integer
// dot products), so the same rows are computed exactly and the same index
// wins; row lengths with and without a tail.
func TestArgmaxLinearKernelsAgree(t *testing.T) {
	defer setScreenKernel(0)
	screen7Mode.Store(1) // the one-row kernels, also for these 2 rows
	defer screen7Mode.Store(0)
	for _, K := range []int64{512, 100} {
		err := Do(context.Background(), func() error {
			defer NoGrad()()
			s := NewScope()
			defer s.Close()
			w := s.Randn([]int64{4003, K}, Float32, CPU)
			x := s.Randn([]int64{2, K}, Float32, CPU)
			ix, err := NewArgmaxIndex(w)
			if err != nil {
				return err
			}
			defer ix.Free()
			var first string
			for _, k := range []int{1, 2, 3} {
				if !setScreenKernel(k) {
					t.Logf("K=%d: kernel %d: this CPU lacks it", K, k)
					continue
				}
				best, computed, ok := s.argmaxScreened(x, ix, 2)
				if !ok || s.Err() != nil {
					return fmt.Errorf("kernel %d: %v", k, s.Err())
				}
				ids, err := best.Int64s()
				if err != nil {
					return err
				}
				got := fmt.Sprint(ids, computed)
				if first == "" {
					first = got
				} else if got != first {
					return fmt.Errorf("K=%d: kernel %d gives %s, the portable one %s", K, k, got, first)
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
}

// Every kernel's integer dot products are exact, at the extremes too: all
// weights and inputs at ±127 (the pairs vpmaddubsw adds reach 32258 and
// must not saturate), zeros (no sign to carry), and random values, for row
// lengths with and without a tail after the 32-, 64- or 16-byte blocks.
func TestScreenDotsExact(t *testing.T) {
	defer setScreenKernel(0)
	rng := rand.New(rand.NewPCG(7, 11))
	for _, K := range []int{1, 31, 32, 40, 100, 896, 4864} {
		for _, fill := range []string{"+127", "-127", "mixed-extreme", "zero-x", "random"} {
			xq, q := make([]int8, K), make([]int8, 4*K)
			for k := range xq {
				switch fill {
				case "+127":
					xq[k] = 127
				case "-127":
					xq[k] = -127
				case "mixed-extreme":
					xq[k] = int8(127 - 254*(k%2))
				case "random":
					xq[k] = int8(rng.IntN(255) - 127)
				}
			}
			for i := range q {
				switch fill {
				case "+127", "zero-x":
					q[i] = 127
				case "-127":
					q[i] = int8(127 - 254*(i/K%2))
				case "mixed-extreme":
					q[i] = int8(127 - 254*((i+i/K)%2))
				case "random":
					q[i] = int8(rng.IntN(255) - 127)
				}
			}
			var want [4]int32
			for j := range 4 {
				for k := range K {
					want[j] += int32(xq[k]) * int32(q[j*K+k])
				}
			}
			for _, kern := range []int{1, 2, 3} {
				if !setScreenKernel(kern) {
					continue
				}
				if got := screenDot4(xq, q); got != want {
					t.Errorf("K=%d %s: kernel %d: %v, want %v", K, fill, kern, got, want)
				}
			}
		}
	}
}

// Inputs the screen does not take give Argmax(Linear(x, w)): too many rows,
// float64, a non-finite row.
func TestArgmaxLinearFallbacks(t *testing.T) {
	err := Do(context.Background(), func() error {
		defer NoGrad()()
		s := NewScope()
		defer s.Close()
		w := s.Randn([]int64{300, 32}, Float32, CPU)
		ix, err := NewArgmaxIndex(w)
		if err != nil {
			return err
		}
		defer ix.Free()
		nan := make([]float32, 2*32)
		nan[5] = float32(math.NaN())
		for name, x := range map[string]*Tensor{
			"rows > RowLinearMaxRows": s.Randn([]int64{RowLinearMaxRows + 1, 32}, Float32, CPU),
			"3-d (screened)":          s.Randn([]int64{2, 1, 32}, Float32, CPU),
			"non-finite":              scopeFloat32(s, nan, 2, 32),
		} {
			got, err := s.ArgmaxLinear(x, ix).Int64s()
			if err != nil {
				return fmt.Errorf("%s: %w", name, err)
			}
			rows := int64(len(got))
			want, err := s.Argmax(s.View(s.Linear(x, w, nil), rows, 300), 1, false).Int64s()
			if err != nil {
				return fmt.Errorf("%s: %w", name, err)
			}
			if fmt.Sprint(got) != fmt.Sprint(want) {
				return fmt.Errorf("%s: %v, want %v", name, got, want)
			}
		}
		if _, err := NewArgmaxIndex(s.To(w, Float64, CPU)); err == nil {
			return fmt.Errorf("float64 weight: no error")
		}
		return s.Err()
	})
	if err != nil {
		t.Fatal(err)
	}
}

// scopeFloat32 is FromFloat32 owned by s, an error failing s.
func scopeFloat32(s *Scope, data []float32, shape ...int64) *Tensor {
	t, err := FromFloat32(data, shape...)
	if err != nil {
		s.Fail(err)
		return nil
	}
	return s.Own(t)
}

// The 7-bit multi-row screen (argmax_screen_rows.c), forced on whatever the
// CPU, picks what Argmax(Linear(x, w)) picks for every row count up to
// RowLinearMaxRows (its tiles of 2 inputs and 3 weight rows, and the
// rests), with and without a tail of K and of N, computing only a few rows
// exactly.
func TestArgmaxLinearSevenBitRows(t *testing.T) {
	screen7Mode.Store(2)
	defer screen7Mode.Store(0)
	for _, sh := range [][2]int64{{4003, 512}, {1001, 70}} {
		N, K := sh[0], sh[1]
		err := Do(context.Background(), func() error {
			defer NoGrad()()
			s := NewScope()
			defer s.Close()
			w := s.MulScalar(s.Randn([]int64{N, K}, Float32, CPU), 0.02)
			ix, err := NewArgmaxIndex(w)
			if err != nil {
				return err
			}
			defer ix.Free()
			for rows := int64(2); rows <= RowLinearMaxRows; rows++ {
				x := s.MulScalar(s.Randn([]int64{rows, K}, Float32, CPU), 10)
				want, err := s.Argmax(s.Linear(x, w, nil), 1, false).Int64s()
				if err != nil {
					return err
				}
				best, computed, ok := s.argmaxScreened(x, ix, rows)
				if !ok || s.Err() != nil {
					return fmt.Errorf("rows %d: refused: %v", rows, s.Err())
				}
				got, err := best.Int64s()
				if err != nil {
					return err
				}
				if fmt.Sprint(got) != fmt.Sprint(want) {
					return fmt.Errorf("N %d K %d rows %d: argmax %v, want %v", N, K, rows, got, want)
				}
				if perRow := computed / rows; perRow > N/10 { // the 7-bit inputs widen the radius: a looser check than the one-row screen's
					return fmt.Errorf("N %d K %d rows %d: %d rows computed exactly per input: the screen does not screen", N, K, rows, perRow)
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
}
