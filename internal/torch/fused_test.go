package torch

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
)

// randTensor makes a float32 tensor of normal samples × std from a seeded Go PCG.
func randTensor(s *Scope, rng *rand.Rand, std float64, shape ...int64) *Tensor {
	n := int64(1)
	for _, d := range shape {
		n *= d
	}
	v := make([]float32, n)
	for i := range v {
		v[i] = float32(rng.NormFloat64() * std)
	}
	return s.Float32(v, shape...)
}

// closeTo compares two float32 tensors elementwise: |a−b| ≤ atol + rtol·|b|.
func closeTo(t *testing.T, what string, a, b *Tensor, atol, rtol float64) {
	t.Helper()
	av, err := a.Float32s()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	bv, err := b.Float32s()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	if len(av) != len(bv) {
		t.Fatalf("%s: %d values, want %d", what, len(av), len(bv))
	}
	for i := range av {
		if d := math.Abs(float64(av[i] - bv[i])); d > atol+rtol*math.Abs(float64(bv[i])) || math.IsNaN(float64(av[i])) {
			t.Errorf("%s[%d] = %g, want %g", what, i, av[i], bv[i])
			return
		}
	}
}

func grad(t *testing.T, s *Scope, x *Tensor) *Tensor {
	t.Helper()
	g, err := x.Grad()
	if err != nil || g == nil {
		t.Fatalf("no gradient: %v", err)
	}
	return s.Own(g)
}

// Where the target's probability underflows float32 (losses above 69), the
// loss still equals cross_entropy's: those rows are computed again with
// log_softmax, in every chunking.
func TestLinearCrossEntropyLargeLosses(t *testing.T) {
	const N, H, V = 23, 16, 101
	rng := rand.New(rand.NewPCG(3, 4))
	tg := make([]int64, N)
	for i := range tg {
		tg[i] = int64(rng.IntN(V))
	}
	err := Do(context.Background(), func() error {
		defer NoGrad()()
		s := NewScope()
		defer s.Close()
		x := randTensor(s, rng, 40, N, H) // logits with a spread of hundreds
		w := randTensor(s, rng, 0.5, V, H)
		targets := s.Int64(tg, N)
		ref, err := s.CrossEntropySum(s.Linear(x, w, nil), targets, -100).Item64()
		if err != nil {
			return err
		}
		if ref/N < 69 {
			return fmt.Errorf("mean loss %.1f: the case does not reach the underflow", ref/N)
		}
		for _, chunk := range []int{0, 1, 5} {
			got, err := s.LinearCrossEntropy(x, w, targets, CrossEntropyOptions{IgnoreIndex: -100, GradScale: 1, ChunkRows: chunk}).Item64()
			if err != nil {
				return err
			}
			if math.Abs(got-ref) > 1e-5*math.Abs(ref) {
				return fmt.Errorf("chunk %d: loss %v, cross_entropy %v", chunk, got, ref)
			}
		}
		return s.Err()
	})
	if err != nil {
		t.Fatal(err)
	}
}

// LinearCrossEntropy gives cross_entropy(x·wᵀ, targets, sum)'s value and
// gradients, whatever the chunking, with ignored targets, when backward
// brings the expected upstream gradient or another one, and without autograd.
func TestLinearCrossEntropyMatchesCrossEntropy(t *testing.T) {
	const N, H, V = 37, 16, 101
	rng := rand.New(rand.NewPCG(1, 2))
	tg := make([]int64, N)
	for i := range tg {
		tg[i] = int64(rng.IntN(V))
		if i%5 == 3 {
			tg[i] = -100
		}
	}
	err := Do(context.Background(), func() error {
		s := NewScope()
		defer s.Close()
		x := randTensor(s, rng, 1, N, H)
		w := randTensor(s, rng, 0.5, V, H)
		targets := s.Int64(tg, N)
		if err := s.Err(); err != nil {
			return err
		}
		for _, p := range []*Tensor{x, w} {
			if err := p.SetRequiresGrad(true); err != nil {
				return err
			}
		}
		const scale = 1.0 / 29
		// The reference: materialised logits and libtorch's cross_entropy.
		ref := s.CrossEntropySum(s.Linear(x, w, nil), targets, -100)
		if err := s.MulScalar(ref, scale).Backward(); err != nil {
			return err
		}
		if err := s.Err(); err != nil {
			return err
		}
		gx, gw := s.Detach(grad(t, s, x)), s.Detach(grad(t, s, w))
		refValue, _ := ref.Item64()
		for _, c := range []struct {
			chunk     int
			gradScale float64
		}{{0, scale}, {1, scale}, {7, scale}, {N, scale}, {1000, scale}, {5, 1}, {0, 0}} {
			t.Run(fmt.Sprintf("chunk%d-scale%g", c.chunk, c.gradScale), func(t *testing.T) {
				for _, p := range []*Tensor{x, w} {
					if err := p.DropGrad(); err != nil {
						t.Fatal(err)
					}
				}
				loss := s.LinearCrossEntropy(x, w, targets, CrossEntropyOptions{IgnoreIndex: -100, GradScale: c.gradScale, ChunkRows: c.chunk})
				scaled := s.MulScalar(loss, scale)
				if err := s.Err(); err != nil {
					t.Fatal(err)
				}
				if got, _ := loss.Item64(); math.Abs(got-refValue) > 1e-5*math.Abs(refValue) {
					t.Errorf("loss %v, cross_entropy %v", got, refValue)
				}
				if err := scaled.Backward(); err != nil {
					t.Fatal(err)
				}
				closeTo(t, "grad x", grad(t, s, x), gx, 1e-6, 1e-4)
				closeTo(t, "grad w", grad(t, s, w), gw, 1e-6, 1e-4)
			})
		}
		// Without autograd: the same value, nothing requires grad.
		func() {
			defer NoGrad()()
			loss := s.LinearCrossEntropy(x, w, targets, DefaultCrossEntropyOptions())
			if got, _ := loss.Item64(); math.Abs(got-refValue) > 1e-5*math.Abs(refValue) || loss.RequiresGrad() {
				t.Errorf("no grad: loss %v (requires grad %v), cross_entropy %v", got, loss.RequiresGrad(), refValue)
			}
		}()
		// Every target ignored: loss 0, zero gradients.
		all := make([]int64, N)
		for i := range all {
			all[i] = -100
		}
		for _, p := range []*Tensor{x, w} {
			if err := p.DropGrad(); err != nil {
				return err
			}
		}
		loss := s.LinearCrossEntropy(x, w, s.Int64(all, N), DefaultCrossEntropyOptions())
		if err := s.Err(); err != nil {
			return err
		}
		if err := loss.Backward(); err != nil {
			return err
		}
		if v, _ := loss.Item64(); v != 0 {
			t.Errorf("all ignored: loss %v", v)
		}
		closeTo(t, "all ignored: grad x", grad(t, s, x), s.Zeros([]int64{N, H}, Float32, CPU), 0, 0)
		closeTo(t, "all ignored: grad w", grad(t, s, w), s.Zeros([]int64{V, H}, Float32, CPU), 0, 0)
		return s.Err()
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestLinearCrossEntropyErrors(t *testing.T) {
	err := Do(context.Background(), func() error {
		s := NewScope()
		defer s.Close()
		x := s.Ones([]int64{3, 4}, Float32, CPU)
		w := s.Ones([]int64{5, 4}, Float32, CPU)
		for _, c := range []struct {
			name    string
			x, w, t *Tensor
			want    string
		}{
			{"shape", x, s.Ones([]int64{5, 3}, Float32, CPU), s.Int64([]int64{0, 1, 2}, 3), "x is"},
			{"targets", x, w, s.Int64([]int64{0, 1}, 2), "targets must be"},
			{"range", x, w, s.Int64([]int64{0, 1, 9}, 3), "out of bounds"},
		} {
			e := NewScope()
			out := e.LinearCrossEntropy(c.x, c.w, c.t, DefaultCrossEntropyOptions())
			if out != nil || e.Err() == nil || !strings.Contains(e.Err().Error(), c.want) {
				t.Errorf("%s: got %v, error %v; want an error containing %q", c.name, out, e.Err(), c.want)
			}
			e.Close()
		}
		return s.Err()
	})
	if err != nil {
		t.Fatal(err)
	}
}

// adamWOps is torch.optim.AdamW's single-tensor update written as tensor
// ops (as internal/train/optim.go does), the reference for AdamW.
func adamWOps(s *Scope, p, g, m, v *Tensor, lr, b1, b2, eps, wd float64, step int, decay bool, gradScale float64) {
	bc1 := 1 - math.Pow(b1, float64(step))
	bc2 := 1 - math.Pow(b2, float64(step))
	g = s.MulScalar(g, gradScale)
	if decay && wd != 0 {
		s.MulScalarInPlace(p, 1-lr*wd)
	}
	s.LerpInPlace(m, g, 1-b1)
	s.MulScalarInPlace(v, b2)
	s.AddcmulInPlace(v, s.MulScalar(g, 1-b2), g)
	denom := s.AddScalar(s.MulScalar(s.Sqrt(v), 1/math.Sqrt(bc2)), eps)
	s.AddcdivInPlace(p, s.MulScalar(m, -lr/bc1), denom)
}

// AdamW equals the op-by-op update over several steps, with weight decay on
// some parameters, a gradient scale, a missing gradient and a
// non-contiguous parameter (the generic path).
func TestAdamWMatchesOps(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	err := Do(context.Background(), func() error {
		defer NoGrad()()
		s := NewScope()
		defer s.Close()
		shapes := [][]int64{{70000}, {33, 7}, {5}, {4, 6}}
		var ps, qs, gs, m1, v1, m2, v2 []*Tensor
		for i, sh := range shapes {
			p := randTensor(s, rng, 1, sh...)
			if i == 3 { // a transposed view: not contiguous
				p = s.Transpose(randTensor(s, rng, 1, sh[1], sh[0]), 0, 1)
			}
			ps = append(ps, p)
			q := s.Contiguous(s.MulScalar(p, 1)) // the reference's copy
			if i == 3 {
				q = s.Transpose(s.Contiguous(s.Transpose(p, 0, 1)), 0, 1)
			}
			qs = append(qs, q)
			m1, v1 = append(m1, s.Zeros(sh, Float32, CPU)), append(v1, s.Zeros(sh, Float32, CPU))
			m2, v2 = append(m2, s.Zeros(sh, Float32, CPU)), append(v2, s.Zeros(sh, Float32, CPU))
		}
		decay := []bool{true, false, true, true}
		const lr, b1, b2, eps, wd, gradScale = 1e-2, 0.9, 0.999, 1e-8, 0.1, 0.5
		for step := 1; step <= 4; step++ {
			gs = gs[:0]
			for i, sh := range shapes {
				if i == 2 && step == 2 {
					gs = append(gs, nil) // no gradient this step: parameter untouched
					continue
				}
				gs = append(gs, randTensor(s, rng, 1, sh...))
			}
			if err := s.Err(); err != nil {
				return err
			}
			if err := AdamW(ps, gs, m1, v1, AdamWOptions{LR: lr, Beta1: b1, Beta2: b2, Eps: eps, WeightDecay: wd, Decay: decay, Step: step, GradScale: gradScale}); err != nil {
				return err
			}
			for i := range shapes {
				if gs[i] != nil {
					adamWOps(s, qs[i], gs[i], m2[i], v2[i], lr, b1, b2, eps, wd, step, decay[i], gradScale)
				}
			}
			if err := s.Err(); err != nil {
				return err
			}
		}
		for i := range shapes {
			closeTo(t, fmt.Sprintf("param %d", i), ps[i], qs[i], 1e-6, 1e-5)
			closeTo(t, fmt.Sprintf("exp_avg %d", i), m1[i], m2[i], 1e-7, 1e-5)
			closeTo(t, fmt.Sprintf("exp_avg_sq %d", i), v1[i], v2[i], 1e-9, 1e-5)
		}
		if err := AdamW(ps, gs[:1], m1, v1, AdamWOptions{LR: lr, Step: 1}); err == nil {
			t.Error("mismatched lists: no error")
		}
		if err := AdamW(ps, gs, m1, v1, AdamWOptions{LR: lr}); err == nil {
			t.Error("step 0: no error")
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// GradNorm is the 2-norm of all gradients together; DropGrad leaves none.
func TestGradNormAndDropGrad(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	err := Do(context.Background(), func() error {
		s := NewScope()
		defer s.Close()
		a, b := randTensor(s, rng, 1, 300), randTensor(s, rng, 2, 7, 9)
		var sum float64
		for _, x := range []*Tensor{a, b} {
			v, err := x.Float32s()
			if err != nil {
				return err
			}
			for _, f := range v {
				sum += float64(f) * float64(f)
			}
		}
		got, err := GradNorm([]*Tensor{a, nil, b})
		if err != nil {
			return err
		}
		if math.Abs(got-math.Sqrt(sum)) > 1e-5*math.Sqrt(sum) {
			t.Errorf("GradNorm = %v, want %v", got, math.Sqrt(sum))
		}
		if n, err := GradNorm(nil); n != 0 || err != nil {
			t.Errorf("GradNorm(nil) = %v, %v", n, err)
		}
		if err := a.SetRequiresGrad(true); err != nil {
			return err
		}
		if err := s.Sum(s.Square(a), Float32).Backward(); err != nil {
			return err
		}
		if g, _ := a.Grad(); g == nil {
			t.Fatal("no gradient after backward")
		} else {
			g.Free()
		}
		if err := a.DropGrad(); err != nil {
			return err
		}
		if g, err := a.Grad(); g != nil || err != nil {
			t.Errorf("after DropGrad: grad %v, err %v", g, err)
		}
		return s.Err()
	})
	if err != nil {
		t.Fatal(err)
	}
}

// CausalAttention equals Attention with an explicit causal mask, forward and backward.
func TestCausalAttentionMatchesMask(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	err := Do(context.Background(), func() error {
		s := NewScope()
		defer s.Close()
		const B, NH, T, D = 2, 3, 17, 8
		q, k, v := randTensor(s, rng, 1, B, NH, T, D), randTensor(s, rng, 1, B, NH, T, D), randTensor(s, rng, 1, B, NH, T, D)
		mask := s.View(s.Tril(s.Ones([]int64{T, T}, Bool, CPU), 0), 1, 1, T, T)
		up := randTensor(s, rng, 1, B, NH, T, D)
		if err := s.Err(); err != nil {
			return err
		}
		for _, x := range []*Tensor{q, k, v} {
			if err := x.SetRequiresGrad(true); err != nil {
				return err
			}
		}
		run := func(causal bool) (y, gq, gk, gv *Tensor) {
			for _, x := range []*Tensor{q, k, v} {
				if err := x.DropGrad(); err != nil {
					t.Fatal(err)
				}
			}
			if causal {
				y = s.CausalAttention(q, k, v, 0.3)
			} else {
				y = s.Attention(q, k, v, mask, false, 0.3)
			}
			l := s.Sum(s.Mul(y, up), Float32)
			if err := s.Err(); err != nil {
				t.Fatal(err)
			}
			if err := l.Backward(); err != nil {
				t.Fatal(err)
			}
			return s.Detach(y), grad(t, s, q), grad(t, s, k), grad(t, s, v)
		}
		y1, q1, k1, v1 := run(false)
		y2, q2, k2, v2 := run(true)
		closeTo(t, "output", y2, y1, 1e-5, 1e-4)
		closeTo(t, "grad q", q2, q1, 1e-5, 1e-4)
		closeTo(t, "grad k", k2, k1, 1e-5, 1e-4)
		closeTo(t, "grad v", v2, v1, 1e-5, 1e-4)
		return s.Err()
	})
	if err != nil {
		t.Fatal(err)
	}
}
