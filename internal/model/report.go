package model

import (
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/golamini/golamini/internal/torch"
)

// NumParameters counts parameters like HF's num_parameters: a tied embed_out
// counts once. With excludeEmbeddings it leaves out the nn.Embedding weight
// (embed_in) only; embed_out is a Linear and stays (44,670,976 for pythia-70m).
func (c *Config) NumParameters(excludeEmbeddings bool) int64 {
	H, I, V, L := int64(c.HiddenSize), int64(c.IntermediateSize), int64(c.VocabSize), int64(c.NumHiddenLayers)
	perLayer := 4*H + 3*H*H + H*H + I*H + I + H*I + H
	if c.HasAttentionBias() {
		perLayer += 3*H + H
	}
	n := L*perLayer + 2*H
	if !excludeEmbeddings {
		n += V * H
	}
	if !c.TieWordEmbeddings {
		n += V * H
	}
	return n
}

// FLOPs is HF's floating_point_ops for a number of tokens: 6 × tokens ×
// parameters excluding embeddings (forward and backward).
func (c *Config) FLOPs(tokens int64) int64 { return 6 * tokens * c.NumParameters(true) }

// HFMemoryFootprint is what transformers 4.44's get_memory_footprint reports
// for this config with parameters stored as dtype: parameters plus the
// buffers HF keeps per layer (a [P, P] bool causal mask, masked_bias, and the
// rotary inv_freq and cos/sin caches).
func (c *Config) HFMemoryFootprint(dtype torch.DType) int64 {
	P, rot := int64(c.MaxPositionEmbeddings), int64(c.RotaryNDims)
	elt := int64(dtype.Size())
	perLayer := P*P + elt + (rot/2)*4 + 2*P*rot*elt
	return c.NumParameters(false)*elt + int64(c.NumHiddenLayers)*perLayer
}

// MemoryBytes is what this model holds: parameters in dtype plus its rotary
// cos/sin tables (float32 copies converted to dtype). It does not keep HF's
// per-layer causal-mask buffers.
func (c *Config) MemoryBytes(dtype torch.DType) int64 {
	P, rot := int64(c.MaxPositionEmbeddings), int64(c.RotaryNDims)
	return c.NumParameters(false)*int64(dtype.Size()) + 2*P*rot*int64(dtype.Size())
}

// ModuleTree prints the model the way PyTorch prints HF's
// GPTNeoXForCausalLM (transformers 4.44).
func (c *Config) ModuleTree() string {
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
