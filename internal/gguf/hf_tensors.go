package gguf

import (
	"encoding/binary"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"

	"github.com/golamini/golamini/internal/checkpoint"
)

// hfBlockNames maps llama.cpp's per-block tensor names (blk.N.<name>) to
// HF's under model.layers.N. (gguf-py's tensor_mapping for LLAMA, QWEN2
// and QWEN3, read backwards).
var hfBlockNames = map[string]string{
	"attn_norm":   "input_layernorm",
	"attn_q":      "self_attn.q_proj",
	"attn_k":      "self_attn.k_proj",
	"attn_v":      "self_attn.v_proj",
	"attn_output": "self_attn.o_proj",
	"attn_q_norm": "self_attn.q_norm",
	"attn_k_norm": "self_attn.k_norm",
	"ffn_norm":    "post_attention_layernorm",
	"ffn_gate":    "mlp.gate_proj",
	"ffn_up":      "mlp.up_proj",
	"ffn_down":    "mlp.down_proj",
}

var hfTopNames = map[string]string{
	"token_embd":  "model.embed_tokens",
	"output_norm": "model.norm",
	"output":      "lm_head",
}

// hfIgnored are GGUF tensors with no HF parameter: llama.cpp stores Llama
// 3's rope frequency factors as a tensor, which HFConfig turns back into
// the config's rope_parameters (transformers' loader drops it).
var hfIgnored = map[string]bool{"rope_freqs.weight": true}

// HFName returns the HuggingFace parameter name of a GGUF tensor of a
// llama, qwen2 or qwen3 model ("blk.3.attn_q.weight" →
// "model.layers.3.self_attn.q_proj.weight"), and false for a name with no
// HF counterpart.
func HFName(gguf string) (string, bool) {
	base, suffix, ok := cutLast(gguf, ".")
	if !ok || (suffix != "weight" && suffix != "bias") {
		return "", false
	}
	if hf, ok := hfTopNames[base]; ok {
		return hf + "." + suffix, true
	}
	rest, ok := strings.CutPrefix(base, "blk.")
	if !ok {
		return "", false
	}
	num, part, ok := strings.Cut(rest, ".")
	if !ok {
		return "", false
	}
	if n, err := strconv.Atoi(num); err != nil || n < 0 || strconv.Itoa(n) != num {
		return "", false
	}
	hf, ok := hfBlockNames[part]
	if !ok {
		return "", false
	}
	return "model.layers." + num + "." + hf + "." + suffix, true
}

func cutLast(s, sep string) (string, string, bool) {
	i := strings.LastIndex(s, sep)
	if i < 0 {
		return s, "", false
	}
	return s[:i], s[i+len(sep):], true
}

// HFModel is a GGUF file of a llama, qwen2 or qwen3 model seen as a
// HuggingFace model: the config.json transformers builds from its metadata
// and its tensors under HF names as float32, with llama.cpp's Q/K row
// permutation undone for llama. It implements checkpoint.External; tensors
// are dequantized one at a time when read.
type HFModel struct {
	File   *File
	Config map[string]any

	hfToGGUF  map[string]string
	infos     []checkpoint.TensorInfo
	permuteQK bool
	nHead     int64
	nKVHead   int64
}

// NewHFModel maps the tensors of f to HF names. Every tensor must have an
// HF counterpart (rope_freqs.weight, read into the config, excepted) and
// a type Dequantize handles: an error names the first that does not.
func NewHFModel(f *File) (*HFModel, error) {
	cfg, err := f.HFConfig()
	if err != nil {
		return nil, err
	}
	archName, _ := f.Architecture()
	m := &HFModel{File: f, Config: cfg, hfToGGUF: map[string]string{}, permuteQK: hfArchs[archName].permuteQK}
	m.nHead, _ = cfg["num_attention_heads"].(int64)
	m.nKVHead = m.nHead
	if kv, ok := cfg["num_key_value_heads"].(int64); ok {
		m.nKVHead = kv
	}
	if m.nHead <= 0 || m.nKVHead <= 0 {
		return nil, fmt.Errorf("gguf: %s: attention head counts %d and %d must be positive", f.name(), m.nHead, m.nKVHead)
	}
	for _, t := range f.Tensors {
		if hfIgnored[t.Name] {
			continue
		}
		hf, ok := HFName(t.Name)
		if !ok {
			return nil, fmt.Errorf("gguf: %s: tensor %q has no HuggingFace counterpart in a %s model", f.name(), t.Name, archName)
		}
		if !Dequantizable(t.Type) {
			return nil, fmt.Errorf("%w: %s: tensor %q has type %v, which cannot be dequantized", ErrUnsupported, f.name(), t.Name, t.Type)
		}
		if m.permuteQK && (strings.Contains(t.Name, ".attn_q.") || strings.Contains(t.Name, ".attn_k.")) {
			heads := m.nHead
			if strings.Contains(t.Name, ".attn_k.") {
				heads = m.nKVHead
			}
			rows := t.Dims[len(t.Dims)-1]
			if rows%(2*heads) != 0 {
				return nil, fmt.Errorf("gguf: %s: tensor %q: %d rows do not split into %d heads of pairs", f.name(), t.Name, rows, heads)
			}
		}
		m.hfToGGUF[hf] = t.Name
		m.infos = append(m.infos, checkpoint.TensorInfo{Name: hf, DType: checkpoint.F32, Shape: t.Shape()})
	}
	sort.Slice(m.infos, func(i, j int) bool { return m.infos[i].Name < m.infos[j].Name })
	return m, nil
}

// ConfigJSON returns the config as an indented config.json document.
func (m *HFModel) ConfigJSON() ([]byte, error) { return m.File.HFConfigJSON() }

// Tensors describes every HF tensor (float32, row-major shapes), sorted by
// name.
func (m *HFModel) Tensors() []checkpoint.TensorInfo {
	out := make([]checkpoint.TensorInfo, len(m.infos))
	for i, ti := range m.infos {
		ti.Shape = append([]int64(nil), ti.Shape...)
		out[i] = ti
	}
	return out
}

// GGUFName returns the GGUF tensor name behind an HF name.
func (m *HFModel) GGUFName(hf string) (string, bool) {
	g, ok := m.hfToGGUF[hf]
	return g, ok
}

// ReadFloat32 returns the named HF tensor as float32 values in row-major
// order: dequantized, and for llama's q_proj and k_proj with the rows of
// each head back in HF's order.
func (m *HFModel) ReadFloat32(hf string) ([]float32, error) {
	g, ok := m.hfToGGUF[hf]
	if !ok {
		return nil, fmt.Errorf("gguf: %s: no tensor maps to %q", m.File.name(), hf)
	}
	vals, err := m.File.ReadFloat32(g)
	if err != nil {
		return nil, err
	}
	if m.permuteQK && (strings.Contains(g, ".attn_q.") || strings.Contains(g, ".attn_k.")) {
		heads := m.nHead
		if strings.Contains(g, ".attn_k.") {
			heads = m.nKVHead
		}
		t, _ := m.File.Tensor(g)
		vals = unpermuteRows(vals, t.Dims[len(t.Dims)-1], heads)
	}
	return vals, nil
}

// ReadTensor returns ReadFloat32's values as little-endian bytes
// (checkpoint.External).
func (m *HFModel) ReadTensor(hf string) ([]byte, error) {
	vals, err := m.ReadFloat32(hf)
	if err != nil {
		return nil, err
	}
	b := make([]byte, 4*len(vals))
	for i, v := range vals {
		binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(v))
	}
	return b, nil
}

// Close closes the file.
func (m *HFModel) Close() error { return m.File.Close() }

// Checkpoint wraps m as a checkpoint.Checkpoint (format "gguf") for loaders
// that read safetensors; closing it closes the file.
func (m *HFModel) Checkpoint() (*checkpoint.Checkpoint, error) {
	return checkpoint.FromExternal(m.File.name(), "gguf", m)
}

// unpermuteRows undoes llama.cpp's rotary permutation of a Q or K
// projection: within each head of 2*half rows, llama.cpp stores row 2*i+j
// of the head where HF has row j*half+i (the reshape(heads, half, 2, ...)
// and swapaxes of transformers' _reverse_permute_weights). Works for a
// weight (rows × cols) and a bias (rows × 1).
func unpermuteRows(vals []float32, rows, heads int64) []float32 {
	cols := int64(len(vals)) / rows
	half := rows / heads / 2
	out := make([]float32, len(vals))
	for h := int64(0); h < heads; h++ {
		for i := int64(0); i < half; i++ {
			for j := int64(0); j < 2; j++ {
				src := h*2*half + i*2 + j
				dst := h*2*half + j*half + i
				copy(out[dst*cols:(dst+1)*cols], vals[src*cols:(src+1)*cols])
			}
		}
	}
	return out
}

// permuteRows applies llama.cpp's rotary permutation (the inverse of
// unpermuteRows), as its converter does when writing a llama GGUF.
func permuteRows(vals []float32, rows, heads int64) []float32 {
	cols := int64(len(vals)) / rows
	half := rows / heads / 2
	out := make([]float32, len(vals))
	for h := int64(0); h < heads; h++ {
		for i := int64(0); i < half; i++ {
			for j := int64(0); j < 2; j++ {
				src := h*2*half + j*half + i
				dst := h*2*half + i*2 + j
				copy(out[dst*cols:(dst+1)*cols], vals[src*cols:(src+1)*cols])
			}
		}
	}
	return out
}
