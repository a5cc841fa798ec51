package model

import (
	"fmt"
	"math/rand/v2"

	"github.com/golamini/golamini/internal/torch"
)

// NewRandom builds a model with HF's initialisation (normal with std
// initializer_range for linear and embedding weights, zero biases, norm
// weights 1 and LayerNorm biases 0), drawn from a seeded Go PCG so it is the
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
	m, err := skeleton(cfg)
	if err != nil {
		return nil, fmt.Errorf("model: %w", err)
	}
	m.Device, m.DType = opts.Device, opts.DType
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
	for _, w := range m.weights() {
		if *w.dst, err = make_(w.init, w.shape...); err != nil {
			break
		}
	}
	if cfg.TieWordEmbeddings {
		m.EmbedOut = m.EmbedIn
	}
	if err == nil {
		err = m.ensureRotary(1)
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
	bos := 0
	c.BOSTokenID, c.EOSTokenID = &bos, IDsOf(0)
	c.TorchDType = "float16"
	_ = c.Validate()
	return c
}
