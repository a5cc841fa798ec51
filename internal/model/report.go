package model

import (
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/golamini/golamini/internal/torch"
)

// NumParameters counts parameters like HF's num_parameters: a tied output
// projection counts once. With excludeEmbeddings it leaves out the
// nn.Embedding weight only (embed_in, embed_tokens, and so a tied output
// projection with it); an untied embed_out / lm_head is a Linear and stays
// (44,670,976 for pythia-70m).
func (c *Config) NumParameters(excludeEmbeddings bool) int64 {
	m, err := skeleton(*c)
	if err != nil {
		return 0
	}
	var n int64
	for i, w := range m.weights() {
		if i == 0 && excludeEmbeddings {
			continue // the embedding comes first
		}
		k := int64(1)
		for _, d := range w.shape {
			k *= d
		}
		n += k
	}
	return n
}

// FLOPs is HF's floating_point_ops for a number of tokens: 6 × tokens ×
// parameters excluding embeddings (forward and backward).
func (c *Config) FLOPs(tokens int64) int64 { return 6 * tokens * c.NumParameters(true) }

// HFMemoryFootprint is what transformers' get_memory_footprint reports for
// this config with parameters stored as dtype: parameters plus buffers. For
// GPT-NeoX (transformers 4.44) the buffers are per layer: a [P, P] bool
// causal mask, masked_bias, and the rotary inv_freq and cos/sin caches; for
// the Llama-style families (transformers 5) they are the rotary inv_freq and
// original_inv_freq, kept in float32.
func (c *Config) HFMemoryFootprint(dtype torch.DType) int64 {
	P, rot := int64(c.MaxPositionEmbeddings), int64(c.RotaryNDims)
	elt := int64(dtype.Size())
	if c.ModelType != "gpt_neox" {
		return c.NumParameters(false)*elt + 2*(rot/2)*4
	}
	perLayer := P*P + elt + (rot/2)*4 + 2*P*rot*elt
	return c.NumParameters(false)*elt + int64(c.NumHiddenLayers)*perLayer
}

// MemoryBytes is what this model holds: parameters in dtype plus its rotary
// cos/sin tables (built for the positions in use, at most
// max_position_embeddings; counted here at that bound). It keeps no
// per-layer causal-mask buffers.
func (c *Config) MemoryBytes(dtype torch.DType) int64 {
	P, hs := int64(c.MaxPositionEmbeddings), int64(c.HeadSize)
	return c.NumParameters(false)*int64(dtype.Size()) + 2*P*hs*int64(dtype.Size())
}

// ModuleTree prints the model the way PyTorch prints the HF model
// (GPT-NeoX as in transformers 4.44, the others as in transformers 5).
func (c *Config) ModuleTree() string {
	if f, ok := families[c.ModelType]; ok {
		return f.tree(c)
	}
	return c.ModelType
}

// gptNeoXTree prints HF's GPTNeoXForCausalLM.
func gptNeoXTree(c *Config) string {
	H, I, V, L := c.HiddenSize, c.IntermediateSize, c.VocabSize, c.NumHiddenLayers
	eps := pyFloat(c.LayerNormEps)
	bias := pyBool(c.HasAttentionBias())
	drop := func(p float64) string { return fmt.Sprintf("Dropout(p=%s, inplace=False)", pyFloat(p)) }
	ln := fmt.Sprintf("LayerNorm((%d,), eps=%s, elementwise_affine=True)", H, eps)
	act := "GELUActivation()"
	switch c.HiddenAct {
	case "gelu_new":
		act = "NewGELUActivation()"
	case "gelu_pytorch_tanh":
		act = "PytorchGELUTanh()"
	case "gelu_fast":
		act = "FastGELUActivation()"
	}
	layerIdx := "(0)"
	layerHead := "GPTNeoXLayer("
	if L > 1 {
		layerIdx = fmt.Sprintf("(0-%d)", L-1)
		layerHead = fmt.Sprintf("%d x GPTNeoXLayer(", L)
	}
	var b strings.Builder
	w := func(indent int, s string) { b.WriteString(strings.Repeat("  ", indent) + s + "\n") }
	w(0, "GPTNeoXForCausalLM(")
	w(1, "(gpt_neox): GPTNeoXModel(")
	w(2, fmt.Sprintf("(embed_in): Embedding(%d, %d)", V, H))
	w(2, "(emb_dropout): "+drop(c.HiddenDropout))
	w(2, "(layers): ModuleList(")
	w(3, layerIdx+": "+layerHead)
	w(4, "(input_layernorm): "+ln)
	w(4, "(post_attention_layernorm): "+ln)
	w(4, "(post_attention_dropout): "+drop(c.HiddenDropout))
	w(4, "(post_mlp_dropout): "+drop(c.HiddenDropout))
	w(4, "(attention): GPTNeoXAttention(")
	w(5, "(rotary_emb): GPTNeoXRotaryEmbedding()")
	w(5, fmt.Sprintf("(query_key_value): Linear(in_features=%d, out_features=%d, bias=%s)", H, 3*H, bias))
	w(5, fmt.Sprintf("(dense): Linear(in_features=%d, out_features=%d, bias=%s)", H, H, bias))
	w(5, "(attention_dropout): "+drop(c.AttentionDropout))
	w(4, ")")
	w(4, "(mlp): GPTNeoXMLP(")
	w(5, fmt.Sprintf("(dense_h_to_4h): Linear(in_features=%d, out_features=%d, bias=True)", H, I))
	w(5, fmt.Sprintf("(dense_4h_to_h): Linear(in_features=%d, out_features=%d, bias=True)", I, H))
	w(5, "(act): "+act)
	w(4, ")")
	w(3, ")")
	w(2, ")")
	w(2, "(final_layer_norm): "+ln)
	w(1, ")")
	w(1, fmt.Sprintf("(embed_out): Linear(in_features=%d, out_features=%d, bias=False)", H, V))
	b.WriteString(")")
	return b.String()
}

// String prints the module tree.
func (m *Model) String() string { return m.Config.ModuleTree() }

// pyFloat formats like Python's repr of a float.
func pyFloat(f float64) string {
	if f == math.Trunc(f) && math.Abs(f) < 1e16 {
		return strconv.FormatFloat(f, 'f', 1, 64)
	}
	s := strconv.FormatFloat(f, 'g', -1, 64)
	if i := strings.IndexByte(s, 'e'); i >= 0 && (s[i+1] == '-' || s[i+1] == '+') && len(s)-i-2 == 1 {
		s = s[:i+2] + "0" + s[i+2:] // Python pads the exponent to two digits
	}
	return s
}

func pyBool(b bool) string {
	if b {
		return "True"
	}
	return "False"
}

// llamaTree prints HF's LlamaForCausalLM, MistralForCausalLM,
// Qwen2ForCausalLM or Qwen3ForCausalLM.
func llamaTree(c *Config) string {
	name := map[string]string{"llama": "Llama", "mistral": "Mistral", "qwen2": "Qwen2", "qwen3": "Qwen3"}[c.ModelType]
	m, _ := skeleton(*c)
	l := &m.Layers[0]
	H, I, V, L := c.HiddenSize, c.IntermediateSize, c.VocabSize, c.NumHiddenLayers
	nq, nkv := c.NumAttentionHeads*c.HeadSize, c.KVHeads*c.HeadSize
	rms := func(n int) string { return fmt.Sprintf("%sRMSNorm((%d,), eps=%s)", name, n, pyFloat(c.RMSNormEps)) }
	lin := func(in, out int, x *Linear) string {
		return fmt.Sprintf("Linear(in_features=%d, out_features=%d, bias=%s)", in, out, pyBool(x.bias))
	}
	layerIdx, layerHead := "(0)", name+"DecoderLayer("
	if L > 1 {
		layerIdx, layerHead = fmt.Sprintf("(0-%d)", L-1), fmt.Sprintf("%d x %sDecoderLayer(", L, name)
	}
	var b strings.Builder
	w := func(indent int, s string) { b.WriteString(strings.Repeat("  ", indent) + s + "\n") }
	w(0, name+"ForCausalLM(")
	w(1, "(model): "+name+"Model(")
	w(2, fmt.Sprintf("(embed_tokens): Embedding(%d, %d)", V, H))
	w(2, "(layers): ModuleList(")
	w(3, layerIdx+": "+layerHead)
	w(4, "(self_attn): "+name+"Attention(")
	w(5, "(q_proj): "+lin(H, nq, &l.Q))
	w(5, "(k_proj): "+lin(H, nkv, &l.K))
	w(5, "(v_proj): "+lin(H, nkv, &l.V))
	w(5, "(o_proj): "+lin(nq, H, &l.O))
	if l.QNorm.Path != "" {
		w(5, "(q_norm): "+rms(c.HeadSize))
		w(5, "(k_norm): "+rms(c.HeadSize))
	}
	w(4, ")")
	w(4, "(mlp): "+name+"MLP(")
	w(5, "(gate_proj): "+lin(H, I, &l.Gate))
	w(5, "(up_proj): "+lin(H, I, &l.Up))
	w(5, "(down_proj): "+lin(I, H, &l.Down))
	w(5, "(act_fn): SiLUActivation()")
	w(4, ")")
	w(4, "(input_layernorm): "+rms(H))
	w(4, "(post_attention_layernorm): "+rms(H))
	w(3, ")")
	w(2, ")")
	w(2, "(norm): "+rms(H))
	w(2, "(rotary_emb): "+name+"RotaryEmbedding()")
	w(1, ")")
	w(1, fmt.Sprintf("(lm_head): Linear(in_features=%d, out_features=%d, bias=False)", H, V))
	b.WriteString(")")
	return b.String()
}
