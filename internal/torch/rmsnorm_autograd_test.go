package torch

import (
	"context"
	"math/rand/v2"
	"testing"
)

// RMSNorm's output and the gradients of x and w equal libtorch's autograd
// through the op-by-op norm (square, mean, add, rsqrt, mul, mul), for a last
// dimension that is not a multiple of the 16 lanes, a strided x, and a
// frozen w (no gradient asked for).
func TestRMSNormMatchesOps(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	err := Do(context.Background(), func() error {
		s := NewScope()
		defer s.Close()
		const B, T, D = 3, 5, 37
		base := randTensor(s, rng, 2, B, D, T)
		x := s.Contiguous(s.Transpose(base, 1, 2)) // [B, T, D]
		w := randTensor(s, rng, 1, D)
		up := randTensor(s, rng, 1, B, T, D)
		if err := s.Err(); err != nil {
			return err
		}
		const eps = 1e-6
		for _, c := range []struct {
			name            string
			strided, trainW bool
		}{{"contiguous", false, true}, {"strided x", true, true}, {"frozen w", false, false}} {
			in := x
			if c.strided {
				in = s.Transpose(base, 1, 2) // a [B, T, D] view with D strided
			}
			leaf := s.Detach(in)
			if err := s.Err(); err != nil {
				return err
			}
			if err := leaf.SetRequiresGrad(true); err != nil {
				return err
			}
			if err := w.SetRequiresGrad(c.trainW); err != nil {
				return err
			}
			run := func(fused bool) (y, gx, gw *Tensor) {
				for _, p := range []*Tensor{leaf, w} {
					if err := p.DropGrad(); err != nil {
						t.Fatal(err)
					}
				}
				if fused {
					if !RMSNormOK(leaf, w) {
						t.Fatalf("%s: RMSNormOK false", c.name)
					}
					y = s.RMSNorm(leaf, w, eps)
				} else {
					y = s.Mul(w, s.Mul(leaf, s.Rsqrt(s.AddScalar(s.MeanDim(s.Square(leaf), true, -1), eps))))
				}
				l := s.Sum(s.Mul(y, up), Float32)
				if err := s.Err(); err != nil {
					t.Fatal(err)
				}
				if err := l.Backward(); err != nil {
					t.Fatal(err)
				}
				y, gx = s.Detach(y), grad(t, s, leaf)
				if c.trainW {
					gw = grad(t, s, w)
				} else if g, err := w.Grad(); err != nil || g != nil {
					t.Fatalf("%s: frozen w got a gradient (%v)", c.name, err)
				}
				return y, gx, gw
			}
			y1, x1, w1 := run(false)
			y2, x2, w2 := run(true)
			closeTo(t, c.name+": output", y2, y1, 1e-6, 1e-5)
			closeTo(t, c.name+": grad x", x2, x1, 1e-5, 1e-4)
			if c.trainW {
				closeTo(t, c.name+": grad w", w2, w1, 1e-5, 1e-4)
			}
		}
		// Without autograd the forward alone runs.
		defer NoGrad()()
		y := s.RMSNorm(x, w, eps)
		want := s.Mul(w, s.Mul(x, s.Rsqrt(s.AddScalar(s.MeanDim(s.Square(x), true, -1), eps))))
		if err := s.Err(); err != nil {
			return err
		}
		closeTo(t, "no grad: output", y, want, 1e-6, 1e-5)
		return s.Err()
	})
	if err != nil {
		t.Fatal(err)
	}
}
