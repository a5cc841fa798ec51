package model

import (
	"fmt"
	"math/rand/v2"

	"github.com/golamini/golamini/internal/torch"
)

// NewRandom builds a model with HF's initialisation for GPT-NeoX (normal
// with std initializer_range for linear and embedding weights, zero biases,
// LayerNorm weight 1 and bias 0), drawn from a seeded Go PCG so it is the
// same on every machine. For benchmarks and tests; must run on the worker.
func NewRandom(cfg Config, opts LoadOptions, seed uint64) (*Model, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("model: %w", err)
	}
	if opts.DType == 0 {
		opts.DType = torch.Float32
	}
	rng := rand.New(rand.NewPCG(seed, 0x6a09e667f3bcc909))
	std := cfg.InitializerRange
	if std == 0 {
		std = 0.02
	}
	m := &Model{Config: cfg, Device: opts.Device, DType: opts.DType, Layers: make([]Layer, cfg.NumHiddenLayers)}
	m.gelu, _ = geluApproximation(cfg.HiddenAct)
	make_ := func(kind string, shape ...int64) (*torch.Tensor, error) {
		n := int64(1)
		for _, d := range shape {
			n *= d
		}
		v := make([]float32, n)
		switch kind {
		case "normal":
			for i := range v {
				v[i] = float32(rng.NormFloat64() * std)
			}
		case "one":
			for i := range v {
				v[i] = 1
			}
		}
		t, err := torch.FromFloat32(v, shape...)
		if err != nil || (opts.DType == torch.Float32 && opts.Device == torch.CPU) {
			return t, err
		}
		s := torch.NewScope()
		defer s.Close()
		s.Own(t)
		out := s.To(t, opts.DType, opts.Device)
		return s.Keep(out), s.Err()
	}
	H, I, V := int64(cfg.HiddenSize), int64(cfg.IntermediateSize), int64(cfg.VocabSize)
	var err error
	set := func(dst **torch.Tensor, kind string, shape ...int64) {
		if err == nil {
			*dst, err = make_(kind, shape...)
		}
	}
	set(&m.EmbedIn, "normal", V, H)
	for i := range m.Layers {
		l := &m.Layers[i]
		set(&l.LN1W, "one", H)
		set(&l.LN1B, "zero", H)
		set(&l.LN2W, "one", H)
		set(&l.LN2B, "zero", H)
		set(&l.QKVW, "normal", 3*H, H)
		set(&l.DenseW, "normal", H, H)
		if cfg.HasAttentionBias() {
			set(&l.QKVB, "zero", 3*H)
			set(&l.DenseB, "zero", H)
		}
		set(&l.FC1W, "normal", I, H)
		set(&l.FC1B, "zero", I)
		set(&l.FC2W, "normal", H, I)
		set(&l.FC2B, "zero", H)
	}
	set(&m.FinalLNW, "one", H)
	set(&m.FinalLNB, "zero", H)
	if cfg.TieWordEmbeddings {
		m.EmbedOut = m.EmbedIn
	} else {
		set(&m.EmbedOut, "normal", V, H)
	}
	if err == nil {
		err = m.ensureRotary(int64(cfg.MaxPositionEmbeddings))
	}
	if err != nil {
		m.Free()
		return nil, fmt.Errorf("model: random init: %w", err)
	}
	return m, nil
}

// Pythia70M is the configuration of EleutherAI/pythia-70m (for benchmarks).
func Pythia70M() Config {
	c := DefaultConfig()
	c.Architectures = []string{"GPTNeoXForCausalLM"}
	c.VocabSize, c.HiddenSize, c.NumHiddenLayers, c.NumAttentionHeads, c.IntermediateSize = 50304, 512, 6, 8, 2048
	c.RotaryPct, c.MaxPositionEmbeddings = 0.25, 2048
	bos, eos := 0, 0
	c.BOSTokenID, c.EOSTokenID = &bos, &eos
	c.TorchDType = "float16"
	_ = c.Validate()
	return c
}
