package torch

import (
	"context"
	"fmt"
	"math"
	"testing"
	"time"
)

// RowAttention and RowAttentionGrouped over rows of different lengths equal
// DecodeAttention and DecodeAttentionGrouped run on each row alone with its
// own length: the same outputs (within float32 rounding: the products are
// summed in another order) and the same cache columns written (GPT-NeoX
// with partial rotary; grouped heads with and without Qwen3's q/k norms,
// with and without rotary). The rows are attended on one thread, on two
// (one row per chunk, as RowLinear's), and with a helper that stalls 3 ms in
// every row, whose rows the worker takes over.
func TestRowAttentionMatchesDecodeAttentionPerRow(t *testing.T) {
	past := []int64{5, 0, 9, 3, 11, 7, 1, 10, 2, 6, 8, 4}
	B := int64(len(past))
	const nh, nkv, hs, capacity, P = 4, 2, 8, 12, 16
	defer SetRowLinearThreads(RowLinearThreads())
	defer testHelperPause.Store(0)
	for _, mode := range []struct {
		threads int
		pause   time.Duration
	}{{1, 0}, {2, 0}, {2, 3 * time.Millisecond}} {
		SetRowLinearThreads(mode.threads)
		testHelperPause.Store(int64(mode.pause))
		before := takenOver.Load()
		for _, tc := range []struct {
			grouped, norms bool
			rot            int
		}{{false, false, 4}, {false, false, 0}, {true, false, 8}, {true, true, 4}, {true, true, 0}} {
			name := fmt.Sprintf("threads%d/pause%v/grouped%v/norms%v/rot%d", mode.threads, mode.pause, tc.grouped, tc.norms, tc.rot)
			err := Do(context.Background(), func() error {
				defer NoGrad()()
				s := NewScope()
				defer s.Close()
				heads, width := int64(nh), int64(3*nh*hs)
				if tc.grouped {
					heads, width = nkv, (nh+2*nkv)*hs
				}
				qkv := s.Randn([]int64{B, 1, width}, Float32, CPU)
				cos := s.Randn([]int64{P, hs}, Float32, CPU)
				sin := s.Randn([]int64{P, hs}, Float32, CPU)
				var qn, kn *Tensor
				if tc.norms {
					qn, kn = s.Randn([]int64{hs}, Float32, CPU), s.Randn([]int64{hs}, Float32, CPU)
				}
				kc := s.Randn([]int64{B, heads, capacity, hs}, Float32, CPU)
				vc := s.Randn([]int64{B, heads, capacity, hs}, Float32, CPU)
				kr, vr := s.Mul(kc, s.Ones([]int64{1}, Float32, CPU)), s.Mul(vc, s.Ones([]int64{1}, Float32, CPU)) // copies for the per-row calls
				var got *Tensor
				// Several calls (each writes the same cache columns again): a
				// helper joins a call of a few microseconds only now and
				// then, so with the stalling helper the calls go on until
				// the worker has taken a row over.
				for k := 0; k < 200 && (k < 3 || mode.pause > 0 && takenOver.Load() == before); k++ {
					if tc.grouped {
						if !RowAttentionGroupedOK(qkv, cos, sin, tc.rot, qn, kn, kc, vc, past) {
							return fmt.Errorf("RowAttentionGroupedOK false")
						}
						got = s.RowAttentionGrouped(qkv, cos, sin, tc.rot, qn, kn, 1e-6, kc, vc, past, 0.3)
					} else {
						if !RowAttentionOK(qkv, cos, sin, tc.rot, kc, vc, past) {
							return fmt.Errorf("RowAttentionOK false")
						}
						got = s.RowAttention(qkv, cos, sin, tc.rot, kc, vc, past, 0.3)
					}
				}
				var want []*Tensor
				for b, p := range past {
					row := func(x *Tensor) *Tensor { return s.Contiguous(s.Narrow(x, 0, int64(b), 1)) }
					q, k, v := row(qkv), row(kr), row(vr)
					if tc.grouped {
						want = append(want, s.DecodeAttentionGrouped(q, cos, sin, tc.rot, qn, kn, 1e-6, k, v, p, 0.3))
					} else {
						want = append(want, s.DecodeAttention(q, cos, sin, tc.rot, k, v, p, 0.3))
					}
					s.Copy(s.Narrow(kr, 0, int64(b), 1), k)
					s.Copy(s.Narrow(vr, 0, int64(b), 1), v)
				}
				if err := s.Err(); err != nil {
					return err
				}
				for _, pair := range [][2]*Tensor{{got, s.Cat(0, want...)}, {kc, kr}, {vc, vr}} {
					a, _ := pair[0].Float32s()
					b, _ := pair[1].Float32s()
					if len(a) != len(b) {
						return fmt.Errorf("%d values, want %d", len(a), len(b))
					}
					for i := range a {
						if math.Abs(float64(a[i]-b[i])) > 1e-5*(1+math.Abs(float64(b[i]))) {
							return fmt.Errorf("value %d: %v, want %v", i, a[i], b[i])
						}
					}
				}
				return s.Err()
			})
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
		}
		if n := takenOver.Load() - before; mode.pause > 0 && n == 0 {
			t.Errorf("a helper stalled 3 ms in every row, yet the worker took over no row")
		}
	}
}

// RowAttentionOK refuses lengths that do not fit: one per row, each inside
// the cache.
func TestRowAttentionOKChecksLengths(t *testing.T) {
	err := Do(context.Background(), func() error {
		defer NoGrad()()
		s := NewScope()
		defer s.Close()
		qkv := s.Randn([]int64{2, 1, 3 * 2 * 4}, Float32, CPU)
		kc := s.Randn([]int64{2, 2, 6, 4}, Float32, CPU)
		vc := s.Randn([]int64{2, 2, 6, 4}, Float32, CPU)
		if err := s.Err(); err != nil {
			return err
		}
		for _, past := range [][]int64{{1}, {1, 2, 3}, {1, 6}, {-1, 0}} {
			if RowAttentionOK(qkv, nil, nil, 0, kc, vc, past) {
				return fmt.Errorf("lengths %v accepted", past)
			}
		}
		if !RowAttentionOK(qkv, nil, nil, 0, kc, vc, []int64{0, 5}) {
			return fmt.Errorf("lengths [0 5] refused")
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
