package lora

import (
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/golamini/golamini/internal/model"
	"github.com/golamini/golamini/internal/torch"
)

// Layer is the low-rank update of one linear projection.
type Layer struct {
	Path  string        // HF module path, e.g. gpt_neox.layers.0.attention.query_key_value
	A     *torch.Tensor // lora_A.weight [r, in], float32
	B     *torch.Tensor // lora_B.weight [out, r], float32
	index int           // position in the adapter, for dropout streams
}

// Adapter is a LoRA adapter over one model's linear projections. Attached
// to a model (its Hook as the model's LinearHook), the targeted projections
// add its update.
type Adapter struct {
	Name   string
	Config Config
	Layers []*Layer // in the model's module order
	// Head is the adapter's own output head [V, H] in the model's dtype,
	// trained in full (modules_to_save = ["lm_head"]); nil when the
	// adapter leaves the head alone. Attached, the model computes its
	// logits with it (model.Model.Head).
	Head   *torch.Tensor
	byPath map[string]*Layer
	scale  float64

	// training turns dropout on; dropoutSeed and dropoutKey pick the masks
	// (see SetTraining).
	training    bool
	dropoutSeed uint64
	dropoutKey  uint64
}

// ParamPrefix and the suffixes make PEFT's tensor names:
// base_model.model.<module path>.lora_A.weight and .lora_B.weight.
const (
	ParamPrefix = "base_model.model."
	suffixA     = ".lora_A.weight"
	suffixB     = ".lora_B.weight"
	// HeadParam is the saved head's tensor name: PEFT's state dict drops
	// the wrapper's "modules_to_save.<adapter>." part.
	HeadParam = ParamPrefix + HeadModule + ".weight"
)

// targets returns the model's projections cfg selects, an error naming the
// configuration when it selects none.
func targets(m *model.Model, cfg *Config) ([]*model.Linear, error) {
	var out []*model.Linear
	for _, l := range m.Linears() {
		ok, err := cfg.TargetModules.matches(l.Path)
		if err != nil {
			return nil, fmt.Errorf("lora: %w", err)
		}
		if ok {
			out = append(out, l)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("lora: target_modules %s: %w: no linear projection of this %s model matches (its projections are named like %s)",
			targetsString(cfg.TargetModules), ErrMismatch, m.Config.ModelType, exampleNames(m))
	}
	return out, nil
}

func targetsString(t Targets) string {
	b, _ := t.MarshalJSON()
	return string(b)
}

// exampleNames lists the module names of the first layer's projections.
func exampleNames(m *model.Model) string {
	ls := m.Linears()
	names := ""
	seen := map[string]bool{}
	for _, l := range ls {
		n := l.Path[lastDot(l.Path)+1:]
		if seen[n] {
			break
		}
		seen[n] = true
		if names != "" {
			names += ", "
		}
		names += n
	}
	return names
}

func lastDot(s string) int {
	for i := len(s) - 1; i >= 0; i-- {
		if s[i] == '.' {
			return i
		}
	}
	return -1
}

// New makes an adapter for m with PEFT's default initialisation: lora_A
// drawn as torch.nn.init.kaiming_uniform_(a=√5) does, uniform on
// ±1/√in, and lora_B zero, so the adapted model starts equal to the base.
// The draws come from seed (a PCG stream; not torch's generator). The
// tensors live on the model's device in float32. Runs on the torch worker.
func New(m *model.Model, cfg Config, name string, seed uint64) (*Adapter, error) {
	if cfg.PeftType == "" {
		cfg.PeftType = "LORA"
	}
	if cfg.TaskType == "" {
		cfg.TaskType = "CAUSAL_LM"
	}
	if cfg.Bias == "" {
		cfg.Bias = "none"
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if v, ok := cfg.InitLoraWeights.(bool); cfg.InitLoraWeights != nil && !(ok && v) {
		return nil, fmt.Errorf("lora: init_lora_weights = %v: %w (only PEFT's default, true)", cfg.InitLoraWeights, ErrUnsupported)
	}
	cfg.InitLoraWeights = true
	ts, err := targets(m, &cfg)
	if err != nil {
		return nil, err
	}
	a := newAdapter(cfg, name, seed)
	rng := rand.New(rand.NewPCG(seed, 0x4c6f5241)) // "LoRA"
	r := int64(cfg.R)
	for _, t := range ts {
		shape := t.W.Shape() // [out, in]
		out, in := shape[0], shape[1]
		bound := 1 / math.Sqrt(float64(in))
		av := make([]float32, r*in)
		for i := range av {
			av[i] = float32((2*rng.Float64() - 1) * bound)
		}
		A, err := onDevice(av, m.Device, r, in)
		if err != nil {
			a.Free()
			return nil, fmt.Errorf("lora: %s: %w", t.Path, err)
		}
		B, err := onDevice(make([]float32, out*r), m.Device, out, r)
		if err != nil {
			A.Free()
			a.Free()
			return nil, fmt.Errorf("lora: %s: %w", t.Path, err)
		}
		a.add(t.Path, A, B)
	}
	if cfg.savesHead() {
		// PEFT's ModulesToSaveWrapper starts from a copy of the module. A
		// tied head (EmbedOut is EmbedIn) is copied the same way: the copy
		// is trained and the input embedding stays frozen, as PEFT does
		// without ensure_weight_tying.
		if a.Head, err = cloneHead(m); err != nil {
			a.Free()
			return nil, err
		}
		a.Config.ModulesToSave = []string{HeadModule}
	}
	return a, nil
}

// cloneHead copies m's output projection.
func cloneHead(m *model.Model) (*torch.Tensor, error) {
	s := torch.NewScope()
	defer s.Close()
	h := s.Zeros(m.EmbedOut.Shape(), m.EmbedOut.DType(), m.EmbedOut.Device())
	s.Copy(h, m.EmbedOut)
	if err := s.Err(); err != nil {
		return nil, fmt.Errorf("lora: copy of the output head: %w", err)
	}
	return s.Keep(h), nil
}

func newAdapter(cfg Config, name string, seed uint64) *Adapter {
	if name == "" {
		name = "default"
	}
	return &Adapter{Name: name, Config: cfg, byPath: map[string]*Layer{}, scale: cfg.Scale(), dropoutSeed: seed}
}

func (a *Adapter) add(path string, A, B *torch.Tensor) {
	l := &Layer{Path: path, A: A, B: B, index: len(a.Layers)}
	a.Layers = append(a.Layers, l)
	a.byPath[path] = l
}

// onDevice makes a float32 tensor from host values on dev.
func onDevice(v []float32, dev torch.Device, shape ...int64) (*torch.Tensor, error) {
	t, err := torch.FromFloat32(v, shape...)
	if err != nil || dev == torch.CPU {
		return t, err
	}
	s := torch.NewScope()
	defer s.Close()
	s.Own(t)
	moved := s.To(t, torch.Float32, dev)
	if err := s.Err(); err != nil {
		return nil, err
	}
	return s.Keep(moved), nil
}

// Scale is the factor of the update, Config.Scale.
func (a *Adapter) Scale() float64 { return a.scale }

// Parameters lists lora_A and lora_B of every layer with PEFT's names
// (base_model.model.<path>.lora_A.weight, …), in module order, then the
// saved head (HeadParam) if any.
func (a *Adapter) Parameters() []model.NamedTensor {
	out := make([]model.NamedTensor, 0, 2*len(a.Layers)+1)
	for _, l := range a.Layers {
		out = append(out, model.NamedTensor{Name: ParamPrefix + l.Path + suffixA, Tensor: l.A},
			model.NamedTensor{Name: ParamPrefix + l.Path + suffixB, Tensor: l.B})
	}
	if a.Head != nil {
		out = append(out, model.NamedTensor{Name: HeadParam, Tensor: a.Head})
	}
	return out
}

// NumParameters is the number of trainable values.
func (a *Adapter) NumParameters() int64 {
	var n int64
	for _, l := range a.Layers {
		n += l.A.Numel() + l.B.Numel()
	}
	if a.Head != nil {
		n += a.Head.Numel()
	}
	return n
}

// SetTraining turns dropout on (training) or off. key names the forward
// pass (the trainer gives each micro-batch its own): the dropout masks are
// a function of the adapter's seed, key and layer, so recomputing a block
// for gradient checkpointing, or resuming a run, draws the same masks.
func (a *Adapter) SetTraining(on bool, key uint64) {
	a.training, a.dropoutKey = on, key
}

// Hook is the model's LinearHook: for a targeted module, whose base
// output y = x·Wᵀ + b the model computed, it returns
// y + scale·(dropout(x)·Aᵀ)·Bᵀ with the update in float32 (x is cast when
// the base runs in another dtype, and the update cast back, as PEFT does);
// other modules' y passes through.
func (a *Adapter) Hook(s *torch.Scope, lin *model.Linear, x, y *torch.Tensor) *torch.Tensor {
	l := a.byPath[lin.Path]
	if l == nil || s.Err() != nil {
		return y
	}
	in := x
	if a.training && a.Config.LoraDropout > 0 {
		in = a.dropout(s, x, l)
	}
	if in.DType() != torch.Float32 {
		in = s.To(in, torch.Float32, l.A.Device())
	}
	d := s.Linear(s.Linear(in, l.A, nil), l.B, nil) // [..., r] then [..., out]
	d = s.MulScalar(d, a.scale)
	if s.Err() == nil && d.DType() != y.DType() {
		d = s.To(d, y.DType(), y.Device())
	}
	return s.Add(y, d)
}

// dropout zeroes each value of x with probability p and scales the rest by
// 1/(1−p) (torch.nn.Dropout in training mode). The mask comes from a PCG
// stream keyed by the adapter's seed, the pass key and the layer.
func (a *Adapter) dropout(s *torch.Scope, x *torch.Tensor, l *Layer) *torch.Tensor {
	p := a.Config.LoraDropout
	rng := rand.New(rand.NewPCG(a.dropoutSeed^0x9e3779b97f4a7c15, a.dropoutKey<<20|uint64(l.index)))
	n := x.Numel()
	mask := make([]float32, n)
	keep := float32(1 / (1 - p))
	for i := range mask {
		if rng.Float64() >= p {
			mask[i] = keep
		}
	}
	mt := s.Float32(mask, x.Shape()...)
	if x.DType() != torch.Float32 || x.Device() != torch.CPU {
		mt = s.To(mt, x.DType(), x.Device())
	}
	return s.Mul(x, mt)
}

// SetSeed sets the seed of the dropout masks (the trainer's Args.Seed).
func (a *Adapter) SetSeed(seed uint64) { a.dropoutSeed = seed }

// Attach makes m run with the adapter (m.LinearHook = a.Hook, m.Head =
// a.Head), in place of any other; Detach removes it.
func (a *Adapter) Attach(m *model.Model) { m.LinearHook, m.Head = a.Hook, a.Head }

// Free releases the adapter's tensors.
func (a *Adapter) Free() {
	if a == nil {
		return
	}
	for _, l := range a.Layers {
		l.A.Free()
		l.B.Free()
	}
	a.Head.Free()
	a.Head = nil
	a.Layers = nil
	a.byPath = map[string]*Layer{}
}

// Detach makes m run without an adapter.
func (a *Adapter) Detach(m *model.Model) { Detach(m) }

// Detach makes m run without any adapter.
func Detach(m *model.Model) { m.LinearHook, m.Head = nil, nil }
