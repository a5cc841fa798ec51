package model

import (
	"context"
	"fmt"
	"sort"
	"strconv"
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

// Load reads config.json and the weights of a HuggingFace model directory
// (safetensors, sharded safetensors, pytorch_model.bin or sharded .bin in
// float32, float16 or bfloat16). It is strict: a missing tensor, a wrong
// shape or an unknown tensor is an error naming it; only the known buffers
// attention.bias, attention.masked_bias and attention.rotary_emb.inv_freq are
// skipped (for Llama-style families, self_attn.rotary_emb.inv_freq). A
// config whose num_hidden_layers disagrees with the checkpoint's layers is
// an error naming the field. Tensors are read one at a time, so two full copies of the weights
// never exist at once. Must run on the torch worker.
func Load(ctx context.Context, dir string, opts LoadOptions) (*Model, error) {
	cfg, err := LoadConfig(dir)
	if err != nil {
		return nil, err
	}
	ck, err := openWeights(dir)
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
	m, err := skeleton(*c)
	if err != nil {
		return nil
	}
	out := map[string][]int64{}
	for _, w := range m.weights() {
		out[w.name] = w.shape
	}
	return out
}

func fromCheckpoint(ctx context.Context, cfg Config, ck *checkpoint.Checkpoint, opts LoadOptions) (*Model, error) {
	if opts.DType == 0 {
		opts.DType = torch.Float32
	}
	m, err := skeleton(cfg)
	if err != nil {
		return nil, err
	}
	m.Device, m.DType = opts.Device, opts.DType
	ws := m.weights()
	want := map[string]weight{}
	for _, w := range ws {
		want[w.name] = w
	}
	// Check names and shapes before reading any data.
	var unknown []string
	layersSeen := -1
	for _, ti := range ck.Tensors() {
		if n, ok := layerIndex(m.fam, ti.Name); ok && n > layersSeen {
			layersSeen = n
		}
		w, ok := want[ti.Name]
		if !ok {
			if ti.Name == m.fam.head+".weight" && cfg.TieWordEmbeddings {
				continue // some writers store the tied copy too
			}
			if isIgnoredBuffer(m.fam, ti.Name) {
				continue
			}
			unknown = append(unknown, ti.Name)
			continue
		}
		if !equalShape(w.shape, ti.Shape) {
			return nil, fmt.Errorf("tensor %q has shape %v, config.json (%s) implies %v", ti.Name, ti.Shape, w.fields, w.shape)
		}
		if !ti.DType.IsFloat() {
			return nil, fmt.Errorf("tensor %q has dtype %v, want a float type", ti.Name, ti.DType)
		}
	}
	if layersSeen+1 != cfg.NumHiddenLayers && layersSeen >= 0 {
		return nil, fmt.Errorf("config.json num_hidden_layers %d, but the checkpoint has %d layers (%w)", cfg.NumHiddenLayers, layersSeen+1, ErrInvalidConfig)
	}
	if len(unknown) > 0 {
		sort.Strings(unknown)
		return nil, fmt.Errorf("unexpected tensors not in a %s: %s", m.fam.arch, strings.Join(unknown, ", "))
	}
	var missing []string
	for _, w := range ws {
		if _, ok := ck.Info(w.name); !ok {
			missing = append(missing, w.name)
		}
	}
	if len(missing) > 0 {
		sort.Strings(missing)
		return nil, fmt.Errorf("missing tensors: %s", strings.Join(missing, ", "))
	}

	read := func(w weight) (*torch.Tensor, error) {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		// The stored bytes straight into a float32 tensor, in one pass.
		var t *torch.Tensor
		err := ck.ReadView(w.name, func(info checkpoint.TensorInfo, raw []byte) error {
			src, ok := torchFloatType(info.DType)
			if !ok {
				return fmt.Errorf("tensor %q has dtype %v, want a float type", w.name, info.DType)
			}
			var err error
			if t, err = torch.Float32FromBytes(raw, src, w.shape...); err != nil {
				return fmt.Errorf("tensor %q: %w", w.name, err)
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
		if opts.DType == torch.Float32 && opts.Device == torch.CPU {
			return t, nil
		}
		s := torch.NewScope()
		defer s.Close()
		s.Own(t)
		out := s.To(t, opts.DType, opts.Device)
		if err := s.Err(); err != nil {
			return nil, fmt.Errorf("tensor %q: %w", w.name, err)
		}
		return s.Keep(out), nil
	}
	for _, w := range ws {
		if *w.dst, err = read(w); err != nil {
			m.Free()
			return nil, err
		}
	}
	if cfg.TieWordEmbeddings {
		m.EmbedOut = m.EmbedIn
	}
	if err := m.ensureRotary(1); err != nil {
		m.Free()
		return nil, err
	}
	return m, nil
}

// layerIndex returns n for a tensor named base.layers.n.….
func layerIndex(f *family, name string) (int, bool) {
	rest, ok := strings.CutPrefix(name, f.base+".layers.")
	if !ok {
		return 0, false
	}
	i := strings.IndexByte(rest, '.')
	if i <= 0 {
		return 0, false
	}
	n, err := strconv.Atoi(rest[:i])
	if err != nil || n < 0 || n > maxLayers {
		return 0, false
	}
	return n, true
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

// isIgnoredBuffer reports whether name is a non-parameter buffer the
// family's HF checkpoints may carry (causal masks, rotary inv_freq).
func isIgnoredBuffer(f *family, name string) bool {
	for _, suf := range f.buffers {
		if strings.HasPrefix(name, f.base+".layers.") && strings.HasSuffix(name, suf) {
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
