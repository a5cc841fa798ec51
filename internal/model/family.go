package model

import (
	"fmt"
	"math"
	"strings"

	"github.com/golamini/golamini/internal/torch"
)

// family is what distinguishes one architecture: its config.json mapping,
// its tensors (names, shapes, initialisation) and its transformer block.
// Everything else (embedding, cache, rotary tables, loss head, greedy
// screening, loading, training) is shared; the trainer, generator and
// runner never look at the family. Adding an architecture is one page with
// a block and its weights, and an entry here.
type family struct {
	arch     string        // HF class name in config.json's architectures
	defaults func() Config // transformers' defaults for the model_type
	validate func(*Config) error
	keys     []string // config.json keys of this model_type beyond commonKeys
	base     string   // module path of the decoder (gpt_neox, model)
	embed    string   // embedding module under base
	norm     string   // final norm module under base
	head     string   // output projection module (embed_out, lm_head)
	layer    func(m *Model, i int) Layer
	block    func(m *Model, s *torch.Scope, l *Layer, x *torch.Tensor, r rotaryTables, kv *layerCache, past int64, mask *torch.Tensor) *torch.Tensor
	tree     func(c *Config) string // module tree as PyTorch prints the HF model
	buffers  []string               // non-parameter tensors a checkpoint may carry (suffixes under layers)
}

var families = map[string]*family{
	"gpt_neox": &gptNeoX,
	"llama":    &llamaFamily,
	"mistral":  &mistralFamily,
	"qwen2":    &qwen2Family,
	"qwen3":    &qwen3Family,
}

var llamaKeys = []string{"num_key_value_heads", "head_dim", "rms_norm_eps", "rope_theta", "rope_scaling",
	"rope_parameters", "partial_rotary_factor"}

var (
	llamaFamily = family{arch: "LlamaForCausalLM", defaults: llamaDefaults, validate: validateLlama,
		keys: append([]string{"attention_bias", "mlp_bias", "pretraining_tp"}, llamaKeys...)}
	mistralFamily = family{arch: "MistralForCausalLM", defaults: mistralDefaults, validate: validateLlama,
		keys: append([]string{"sliding_window"}, llamaKeys...)}
	qwen2Family = family{arch: "Qwen2ForCausalLM", defaults: qwen2Defaults, validate: validateLlama,
		keys: append([]string{"use_sliding_window", "sliding_window", "max_window_layers", "layer_types"}, llamaKeys...)}
	qwen3Family = family{arch: "Qwen3ForCausalLM", defaults: qwen3Defaults, validate: validateLlama,
		keys: append([]string{"attention_bias", "use_sliding_window", "sliding_window", "max_window_layers", "layer_types"}, llamaKeys...)}
)

func init() {
	for _, f := range []*family{&llamaFamily, &mistralFamily, &qwen2Family, &qwen3Family} {
		f.base, f.embed, f.norm, f.head = "model", "embed_tokens", "norm", "lm_head"
		f.layer, f.block, f.tree = llamaLayer, llamaBlock, llamaTree
		f.buffers = []string{".self_attn.rotary_emb.inv_freq"}
	}
}

func llamaDefaults() Config {
	bos := 1
	return Config{ModelType: "llama", VocabSize: 32000, HiddenSize: 4096, IntermediateSize: 11008,
		NumHiddenLayers: 32, NumAttentionHeads: 32, HiddenAct: "silu", MaxPositionEmbeddings: 2048,
		InitializerRange: 0.02, RMSNormEps: 1e-6, UseCache: true, BOSTokenID: &bos, EOSTokenID: IDsOf(2),
		PretrainingTP: 1}
}

func mistralDefaults() Config {
	c := llamaDefaults()
	w := 4096
	c.ModelType, c.IntermediateSize, c.NumKeyValueHeads, c.MaxPositionEmbeddings = "mistral", 14336, 8, 4096*32
	c.SlidingWindow, c.PretrainingTP = &w, 0
	return c
}

func qwen2Defaults() Config {
	c := llamaDefaults()
	w := 4096
	c.ModelType, c.VocabSize, c.IntermediateSize, c.NumKeyValueHeads, c.MaxPositionEmbeddings = "qwen2", 151936, 22016, 32, 32768
	c.BOSTokenID, c.EOSTokenID, c.SlidingWindow, c.MaxWindowLayers, c.PretrainingTP = nil, nil, &w, 28, 0
	return c
}

func qwen3Defaults() Config {
	c := qwen2Defaults()
	c.ModelType, c.HeadDim = "qwen3", 128
	return c
}

// validateLlama resolves and checks the fields of the Llama-style families.
func validateLlama(c *Config) error {
	if c.HiddenAct != "silu" && c.HiddenAct != "swish" {
		return fmt.Errorf("hidden_act %q is %w for %s (silu)", c.HiddenAct, ErrUnsupported, c.ModelType)
	}
	if c.NumKeyValueHeads == 0 {
		c.NumKeyValueHeads = c.NumAttentionHeads // HF: None means multi-head attention
	}
	if c.NumKeyValueHeads < 0 || c.NumKeyValueHeads > c.NumAttentionHeads || c.NumAttentionHeads%c.NumKeyValueHeads != 0 {
		return invalid("num_key_value_heads %d must divide num_attention_heads %d", c.NumKeyValueHeads, c.NumAttentionHeads)
	}
	c.KVHeads = c.NumKeyValueHeads
	c.HeadSize = c.HeadDim
	if c.HeadSize == 0 {
		if c.HiddenSize%c.NumAttentionHeads != 0 {
			return invalid("hidden_size %d must be a multiple of num_attention_heads %d (or head_dim given)", c.HiddenSize, c.NumAttentionHeads)
		}
		c.HeadSize = c.HiddenSize / c.NumAttentionHeads
	}
	if c.HeadSize <= 0 || c.HeadSize > maxHeadDim {
		return invalid("head_dim %d must be in 1…%d", c.HeadSize, maxHeadDim)
	}
	if c.ModelType == "llama" && c.HiddenSize%c.NumAttentionHeads != 0 {
		// LlamaConfig.validate_architecture refuses it too.
		return invalid("hidden_size %d must be a multiple of num_attention_heads %d", c.HiddenSize, c.NumAttentionHeads)
	}
	if c.RMSNormEps <= 0 || math.IsNaN(c.RMSNormEps) {
		return invalid("rms_norm_eps %v must be positive", c.RMSNormEps)
	}
	if c.AttentionDropout != 0 {
		return fmt.Errorf("attention_dropout %v is %w (0 only)", c.AttentionDropout, ErrUnsupported)
	}
	// Sliding windows: Mistral's applies to every layer; Qwen2/3 use one
	// only with use_sliding_window, per layer_types, which we do not
	// implement.
	c.Window = 0
	switch c.ModelType {
	case "mistral":
		if c.SlidingWindow != nil {
			if *c.SlidingWindow <= 0 {
				return invalid("sliding_window %d must be positive", *c.SlidingWindow)
			}
			c.Window = *c.SlidingWindow
		}
	case "qwen2", "qwen3":
		if c.UseSlidingWindow {
			return fmt.Errorf("use_sliding_window true is %w for %s", ErrUnsupported, c.ModelType)
		}
		for i, t := range c.LayerTypes {
			if t != "full_attention" {
				return fmt.Errorf("layer_types[%d] %q is %w (full_attention only)", i, t, ErrUnsupported)
			}
		}
	}
	rope, err := resolveRope(c)
	if err != nil {
		return err
	}
	c.Rope = rope
	// transformers' Llama-style attention rotates whole heads (its
	// apply_rotary_pos_emb has no pass-through part), so a fraction would
	// fail there; GPT-NeoX's rotary_pct is the partial rotary we implement.
	if rope.PartialRotaryFactor != 1 {
		return fmt.Errorf("partial_rotary_factor %v is %w for %s (transformers rotates the whole head)", rope.PartialRotaryFactor, ErrUnsupported, c.ModelType)
	}
	// Interleaved rotary pairs (SmolLM's config names the option) would be
	// a different model from the half-split rotation implemented here.
	if v, ok := c.raw["rope_interleaved"]; ok && strings.TrimSpace(string(v)) == "true" {
		return fmt.Errorf("rope_interleaved true is %w", ErrUnsupported)
	}
	c.RotaryNDims = c.HeadSize
	return nil
}
