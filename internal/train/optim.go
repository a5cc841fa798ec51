package train

import (
	"fmt"
	"math"
	"strings"

	"github.com/golamini/golamini/internal/model"
	"github.com/golamini/golamini/internal/torch"
)

// optimizer updates parameters from their gradients. State lives in
// tensors named "<param>.<slot>" so it can be saved and restored exactly.
type optimizer interface {
	// step applies one update with learning rate lr (grads already clipped).
	step(lr float64) error
	// slots returns the state tensors by name, and the step count.
	slots() (map[string]*torch.Tensor, int)
	// setStep restores the step count after loading slots.
	setStep(n int)
	free()
}

// gradScaler is an optimizer that can apply gradient clipping's coefficient
// inside its update, sparing a pass that scales every gradient first.
type gradScaler interface {
	// setGradScale makes the next step use c·g for every gradient g.
	setGradScale(c float64)
}

// decays reports whether weight decay applies to a parameter: HF exempts
// biases and LayerNorm weights.
func decays(name string) bool {
	return !strings.HasSuffix(name, ".bias") && !strings.Contains(name, "layernorm") && !strings.Contains(name, "layer_norm")
}

func newOptimizer(a *Args, params []model.NamedTensor) (optimizer, error) {
	switch a.Optim {
	case "adamw":
		return &adamW{params: params, b1: a.AdamBeta1, b2: a.AdamBeta2, eps: a.AdamEpsilon, wd: a.WeightDecay, state: map[string]*torch.Tensor{}}, nil
	case "adafactor":
		return &adafactor{params: params, eps1: 1e-30, eps2: 1e-3, clip: 1.0, decay: -0.8, wd: a.WeightDecay, state: map[string]*torch.Tensor{}}, nil
	case "sgd":
		return &sgd{params: params, wd: a.WeightDecay}, nil
	}
	return nil, fmt.Errorf("train: unsupported optim %q", a.Optim)
}

// zerosLike allocates a persistent zero tensor shaped like t (or shape).
func zeros(shape []int64, dev torch.Device) (*torch.Tensor, error) {
	s := torch.NewScope()
	defer s.Close()
	z := s.Zeros(shape, torch.Float32, dev)
	return s.Keep(z), s.Err()
}

func freeAll(m map[string]*torch.Tensor) {
	for _, t := range m {
		t.Free()
	}
}

// adamW is torch.optim.AdamW (HF's optim="adamw_torch"): decoupled weight
// decay p ← p·(1 − lr·wd), then Adam with bias correction.
type adamW struct {
	params      []model.NamedTensor
	b1, b2, eps float64
	wd          float64
	t           int
	state       map[string]*torch.Tensor
	gradScale   float64 // clipping's coefficient for the next step (0: none)
}

// setGradScale folds gradient clipping into the next update (gradScaler).
func (o *adamW) setGradScale(c float64) { o.gradScale = c }

func (o *adamW) step(lr float64) error {
	o.t++
	s := torch.NewScope()
	defer s.Close()
	var ps, gs, ms, vs []*torch.Tensor
	var decay []bool
	for _, p := range o.params {
		g, err := p.Tensor.Grad()
		if err != nil {
			return fmt.Errorf("train: adamw: %s: %w", p.Name, err)
		}
		if g == nil {
			continue
		}
		s.Own(g)
		m, v := o.state[p.Name+".exp_avg"], o.state[p.Name+".exp_avg_sq"]
		if m == nil {
			if m, err = zeros(p.Tensor.Shape(), p.Tensor.Device()); err != nil {
				return err
			}
			o.state[p.Name+".exp_avg"] = m
			if v, err = zeros(p.Tensor.Shape(), p.Tensor.Device()); err != nil {
				return err
			}
			o.state[p.Name+".exp_avg_sq"] = v
		}
		ps, gs, ms, vs = append(ps, p.Tensor), append(gs, g), append(ms, m), append(vs, v)
		decay = append(decay, decays(p.Name))
	}
	// One pass over p, g, m and v per parameter (torch.AdamW) instead of
	// about ten tensor ops and six temporaries of the parameter's size each.
	err := torch.AdamW(ps, gs, ms, vs, torch.AdamWOptions{LR: lr, Beta1: o.b1, Beta2: o.b2, Eps: o.eps,
		WeightDecay: o.wd, Decay: decay, Step: o.t, GradScale: o.gradScale})
	o.gradScale = 0
	if err != nil {
		return fmt.Errorf("train: %w", err)
	}
	return nil
}

func (o *adamW) slots() (map[string]*torch.Tensor, int) { return o.state, o.t }
func (o *adamW) setStep(n int)                          { o.t = n }
func (o *adamW) free()                                  { freeAll(o.state) }

// adafactor is transformers.optimization.Adafactor as HF Trainer configures
// optim="adafactor": scale_parameter=False, relative_step=False (the given
// learning rate), warmup_init=False, eps=(1e-30, 1e-3), clip_threshold=1.0,
// decay_rate=−0.8, beta1=None (no first moment); factored second moments
// for tensors of rank ≥ 2.
type adafactor struct {
	params           []model.NamedTensor
	eps1, eps2, clip float64
	decay, wd        float64
	t                int
	state            map[string]*torch.Tensor
}

func (o *adafactor) step(lr float64) error {
	o.t++
	beta2t := 1 - math.Pow(float64(o.t), o.decay)
	for _, p := range o.params {
		if err := o.update(p, lr, beta2t); err != nil {
			return fmt.Errorf("train: adafactor: %s: %w", p.Name, err)
		}
	}
	return nil
}

func (o *adafactor) update(p model.NamedTensor, lr, beta2t float64) error {
	g, err := p.Tensor.Grad()
	if err != nil || g == nil {
		return err
	}
	s := torch.NewScope()
	defer s.Close()
	s.Own(g)
	shape := p.Tensor.Shape()
	factored := len(shape) >= 2
	sq := s.AddScalar(s.Mul(g, g), o.eps1) // g² + ε1
	var update *torch.Tensor
	if factored {
		row, col := o.state[p.Name+".exp_avg_sq_row"], o.state[p.Name+".exp_avg_sq_col"]
		if row == nil {
			if row, err = zeros(shape[:len(shape)-1], p.Tensor.Device()); err != nil {
				return err
			}
			o.state[p.Name+".exp_avg_sq_row"] = row
			colShape := append(append([]int64{}, shape[:len(shape)-2]...), shape[len(shape)-1])
			if col, err = zeros(colShape, p.Tensor.Device()); err != nil {
				return err
			}
			o.state[p.Name+".exp_avg_sq_col"] = col
		}
		r := int64(len(shape))
		s.MulScalarInPlace(row, beta2t)
		s.AddInPlace(row, s.MulScalar(s.MeanDim(sq, false, r-1), 1-beta2t))
		s.MulScalarInPlace(col, beta2t)
		s.AddInPlace(col, s.MulScalar(s.MeanDim(sq, false, r-2), 1-beta2t))
		// update = rsqrt(row / mean(row)) ⊗ rsqrt(col), times g
		rf := s.Unsqueeze(s.Rsqrt(s.Div(row, s.MeanDim(row, true, r-2))), r-1) // [..., R, 1]
		cf := s.Rsqrt(s.Unsqueeze(col, r-2))                                   // [..., 1, C]
		update = s.Mul(s.Mul(rf, cf), g)
	} else {
		v := o.state[p.Name+".exp_avg_sq"]
		if v == nil {
			if v, err = zeros(shape, p.Tensor.Device()); err != nil {
				return err
			}
			o.state[p.Name+".exp_avg_sq"] = v
		}
		s.MulScalarInPlace(v, beta2t)
		s.AddInPlace(v, s.MulScalar(sq, 1-beta2t))
		update = s.Mul(s.Rsqrt(v), g)
	}
	// Clip the update by its RMS: update /= max(1, rms(update)/clip).
	norm := s.Norm(update)
	if err := s.Err(); err != nil {
		return err
	}
	n, err := norm.Item64()
	if err != nil {
		return err
	}
	rms := n / math.Sqrt(float64(numel(shape)))
	update = s.MulScalar(update, 1/math.Max(1, rms/o.clip))
	if o.wd != 0 && decays(p.Name) {
		s.AddInPlace(p.Tensor, s.MulScalar(p.Tensor, -o.wd*lr))
	}
	s.SubInPlace(p.Tensor, s.MulScalar(update, lr))
	return s.Err()
}

func numel(shape []int64) int64 {
	n := int64(1)
	for _, d := range shape {
		n *= d
	}
	return n
}

func (o *adafactor) slots() (map[string]*torch.Tensor, int) { return o.state, o.t }
func (o *adafactor) setStep(n int)                          { o.t = n }
func (o *adafactor) free()                                  { freeAll(o.state) }

// sgd is torch.optim.SGD without momentum: p ← p − lr·(g + wd·p).
type sgd struct {
	params []model.NamedTensor
	wd     float64
	t      int
}

func (o *sgd) step(lr float64) error {
	o.t++
	for _, p := range o.params {
		g, err := p.Tensor.Grad()
		if err != nil {
			return err
		}
		if g == nil {
			continue
		}
		s := torch.NewScope()
		s.Own(g)
		if o.wd != 0 && decays(p.Name) {
			g = s.Add(g, s.MulScalar(p.Tensor, o.wd))
		}
		s.SubInPlace(p.Tensor, s.MulScalar(g, lr))
		err = s.Err()
		s.Close()
		if err != nil {
			return fmt.Errorf("train: sgd: %s: %w", p.Name, err)
		}
	}
	return nil
}

func (o *sgd) slots() (map[string]*torch.Tensor, int) { return map[string]*torch.Tensor{}, o.t }
func (o *sgd) setStep(n int)                          { o.t = n }
func (o *sgd) free()                                  {}
