package model

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/golamini/golamini/internal/checkpoint"
	"github.com/golamini/golamini/internal/torch"
)

// LoadOptions control where and in which precision weights live.
type LoadOptions struct {
	// Device to hold the weights (default CPU).
	Device torch.Device
	// DType is the compute dtype (default float32, whatever the file stores).
	DType torch.DType
}

// DefaultLoadOptions returns float32 on CPU.
func DefaultLoadOptions() LoadOptions { return LoadOptions{Device: torch.CPU, DType: torch.Float32} }

// ignoredBuffers are non-parameter buffers HF checkpoints may carry.
var ignoredBuffers = []string{".attention.bias", ".attention.masked_bias", ".attention.rotary_emb.inv_freq"}

// Load reads config.json and the weights of a HuggingFace model directory
// (safetensors, sharded safetensors, pytorch_model.bin or sharded .bin in
// float32, float16 or bfloat16). It is strict: a missing tensor, a wrong
// shape or an unknown tensor is an error naming it; only the known buffers
// attention.bias, attention.masked_bias and attention.rotary_emb.inv_freq are
// skipped. Tensors are read one at a time, so two full copies of the weights
// never exist at once. Must run on the torch worker.
func Load(ctx context.Context, dir string, opts LoadOptions) (*Model, error) {
	cfg, err := LoadConfig(dir)
	if err != nil {
		return nil, err
	}
	ck, err := checkpoint.Open(dir)
	if err != nil {
		return nil, fmt.Errorf("model: %w", err)
	}
	defer ck.Close()
	m, err := fromCheckpoint(ctx, cfg, ck, opts)
	if err != nil {
		return nil, fmt.Errorf("model: load %s: %w", dir, err)
	}
	return m, nil
}

// Shapes returns the expected HF tensor names and shapes for cfg.
func (c *Config) Shapes() map[string][]int64 {
	H, I, V := int64(c.HiddenSize), int64(c.IntermediateSize), int64(c.VocabSize)
	out := map[string][]int64{
		"gpt_neox.embed_in.weight":         {V, H},
		"gpt_neox.final_layer_norm.weight": {H},
		"gpt_neox.final_layer_norm.bias":   {H},
	}
	if !c.TieWordEmbeddings {
		out["embed_out.weight"] = []int64{V, H}
	}
	for i := 0; i < c.NumHiddenLayers; i++ {
		p := fmt.Sprintf("gpt_neox.layers.%d.", i)
		out[p+"input_layernorm.weight"] = []int64{H}
		out[p+"input_layernorm.bias"] = []int64{H}
		out[p+"post_attention_layernorm.weight"] = []int64{H}
		out[p+"post_attention_layernorm.bias"] = []int64{H}
		out[p+"attention.query_key_value.weight"] = []int64{3 * H, H}
		out[p+"attention.dense.weight"] = []int64{H, H}
		if c.HasAttentionBias() {
			out[p+"attention.query_key_value.bias"] = []int64{3 * H}
			out[p+"attention.dense.bias"] = []int64{H}
		}
		out[p+"mlp.dense_h_to_4h.weight"] = []int64{I, H}
		out[p+"mlp.dense_h_to_4h.bias"] = []int64{I}
		out[p+"mlp.dense_4h_to_h.weight"] = []int64{H, I}
		out[p+"mlp.dense_4h_to_h.bias"] = []int64{H}
	}
	return out
}

func fromCheckpoint(ctx context.Context, cfg Config, ck *checkpoint.Checkpoint, opts LoadOptions) (*Model, error) {
	if opts.DType == 0 {
		opts.DType = torch.Float32
	}
	want := cfg.Shapes()
	// Check names and shapes before reading any data.
	var unknown []string
	for _, ti := range ck.Tensors() {
		shape, ok := want[ti.Name]
		if !ok {
			if ti.Name == "embed_out.weight" && cfg.TieWordEmbeddings {
				continue // some writers store the tied copy too
			}
			if isIgnoredBuffer(ti.Name) {
				continue
			}
			unknown = append(unknown, ti.Name)
			continue
		}
		if !equalShape(shape, ti.Shape) {
			return nil, fmt.Errorf("tensor %q has shape %v, config.json implies %v", ti.Name, ti.Shape, shape)
		}
		if !ti.DType.IsFloat() {
			return nil, fmt.Errorf("tensor %q has dtype %v, want a float type", ti.Name, ti.DType)
		}
	}
	if len(unknown) > 0 {
		sort.Strings(unknown)
		return nil, fmt.Errorf("unexpected tensors not in a GPT-NeoX model: %s", strings.Join(unknown, ", "))
	}
	var missing []string
	for name := range want {
		if _, ok := ck.Info(name); !ok {
			missing = append(missing, name)
		}
	}
	if len(missing) > 0 {
		sort.Strings(missing)
		return nil, fmt.Errorf("missing tensors: %s", strings.Join(missing, ", "))
	}

	m := &Model{Config: cfg, Device: opts.Device, DType: opts.DType, Layers: make([]Layer, cfg.NumHiddenLayers)}
	m.gelu, _ = geluApproximation(cfg.HiddenAct)
	read := func(name string) (*torch.Tensor, error) {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		// The stored bytes straight into a float32 tensor, in one pass.
		info, raw, err := ck.ReadView(name)
		if err != nil {
			return nil, err
		}
		src, ok := torchFloatType(info.DType)
		if !ok {
			return nil, fmt.Errorf("tensor %q has dtype %v, want a float type", name, info.DType)
		}
		t, err := torch.Float32FromBytes(raw, src, want[name]...)
		if err != nil {
			return nil, fmt.Errorf("tensor %q: %w", name, err)
		}
		if opts.DType == torch.Float32 && opts.Device == torch.CPU {
			return t, nil
		}
		s := torch.NewScope()
		defer s.Close()
		s.Own(t)
		out := s.To(t, opts.DType, opts.Device)
		if err := s.Err(); err != nil {
			return nil, fmt.Errorf("tensor %q: %w", name, err)
		}
		return s.Keep(out), nil
	}
	fail := func(err error) (*Model, error) { m.Free(); return nil, err }
	var err error
	if m.EmbedIn, err = read("gpt_neox.embed_in.weight"); err != nil {
		return fail(err)
	}
	for i := range m.Layers {
		l := &m.Layers[i]
		p := fmt.Sprintf("gpt_neox.layers.%d.", i)
		for _, f := range []struct {
			dst  **torch.Tensor
			name string
		}{
			{&l.LN1W, "input_layernorm.weight"}, {&l.LN1B, "input_layernorm.bias"},
			{&l.LN2W, "post_attention_layernorm.weight"}, {&l.LN2B, "post_attention_layernorm.bias"},
			{&l.QKVW, "attention.query_key_value.weight"}, {&l.QKVB, "attention.query_key_value.bias"},
			{&l.DenseW, "attention.dense.weight"}, {&l.DenseB, "attention.dense.bias"},
			{&l.FC1W, "mlp.dense_h_to_4h.weight"}, {&l.FC1B, "mlp.dense_h_to_4h.bias"},
			{&l.FC2W, "mlp.dense_4h_to_h.weight"}, {&l.FC2B, "mlp.dense_4h_to_h.bias"},
		} {
			if _, ok := want[p+f.name]; !ok {
				continue // no attention bias
			}
			if *f.dst, err = read(p + f.name); err != nil {
				return fail(err)
			}
		}
	}
	if m.FinalLNW, err = read("gpt_neox.final_layer_norm.weight"); err != nil {
		return fail(err)
	}
	if m.FinalLNB, err = read("gpt_neox.final_layer_norm.bias"); err != nil {
		return fail(err)
	}
	if cfg.TieWordEmbeddings {
		m.EmbedOut = m.EmbedIn
	} else if m.EmbedOut, err = read("embed_out.weight"); err != nil {
		return fail(err)
	}
	if err := m.ensureRotary(int64(cfg.MaxPositionEmbeddings)); err != nil {
		return fail(err)
	}
	return m, nil
}

// torchFloatType is the libtorch dtype of a stored float dtype.
func torchFloatType(d checkpoint.DType) (torch.DType, bool) {
	switch d {
	case checkpoint.F32:
		return torch.Float32, true
	case checkpoint.F16:
		return torch.Float16, true
	case checkpoint.BF16:
		return torch.BFloat16, true
	case checkpoint.F64:
		return torch.Float64, true
	}
	return 0, false
}

func isIgnoredBuffer(name string) bool {
	for _, suf := range ignoredBuffers {
		if strings.HasPrefix(name, "gpt_neox.layers.") && strings.HasSuffix(name, suf) {
			return true
		}
	}
	return false
}

func equalShape(a, b []int64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
