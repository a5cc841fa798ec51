package gguf

import (
	"encoding/json"
	"fmt"
)

// hfArch is what the HF side calls a GGUF architecture.
type hfArch struct {
	modelType    string
	architecture string // the *ForCausalLM class
	// headDimKey is the metadata suffix transformers reads head_dim from
	// ("" when it leaves the config class's default).
	headDimKey string
	// permuteQK: llama.cpp's converter permutes the rows of attn_q and
	// attn_k of this architecture (for its rotary layout) and transformers
	// undoes it on load.
	permuteQK bool
}

var hfArchs = map[string]hfArch{
	"llama": {modelType: "llama", architecture: "LlamaForCausalLM", headDimKey: "rope.dimension_count", permuteQK: true},
	"qwen2": {modelType: "qwen2", architecture: "Qwen2ForCausalLM"},
	"qwen3": {modelType: "qwen3", architecture: "Qwen3ForCausalLM", headDimKey: "attention.key_length"},
}

// hfConfigKeys maps `{arch}.<suffix>` metadata to config.json fields, as
// transformers' GGUF loader (integrations/ggml.py GGUF_CONFIG_MAPPING) does
// for llama, qwen2 and qwen3.
var hfConfigKeys = []struct{ suffix, field string }{
	{"context_length", "max_position_embeddings"},
	{"block_count", "num_hidden_layers"},
	{"feed_forward_length", "intermediate_size"},
	{"embedding_length", "hidden_size"},
	{"rope.freq_base", "rope_theta"},
	{"attention.head_count", "num_attention_heads"},
	{"attention.head_count_kv", "num_key_value_heads"},
	{"attention.layer_norm_rms_epsilon", "rms_norm_eps"},
	{"vocab_size", "vocab_size"},
}

// hfTokenKeys are the token ids transformers copies into the config.
var hfTokenKeys = []struct{ key, field string }{
	{"tokenizer.ggml.bos_token_id", "bos_token_id"},
	{"tokenizer.ggml.eos_token_id", "eos_token_id"},
	{"tokenizer.ggml.unknown_token_id", "unk_token_id"},
	{"tokenizer.ggml.padding_token_id", "pad_token_id"},
}

// Architecture returns general.architecture.
func (f *File) Architecture() (string, error) {
	v, ok := f.Get("general.architecture")
	if !ok {
		return "", fmt.Errorf("gguf: %s: no general.architecture in the metadata", f.name())
	}
	s, ok := v.String()
	if !ok {
		return "", fmt.Errorf("gguf: %s: general.architecture is a %s, want STRING", f.name(), v.typeName())
	}
	return s, nil
}

// HFConfig returns the fields of the HuggingFace config.json that
// transformers builds from the file's metadata (llama, qwen2 and qwen3
// architectures): the `{arch}.*` sizes, rope_theta (also as transformers 5's
// rope_parameters), rms_norm_eps, the tokenizer's special ids,
// tie_word_embeddings (true when there is no output.weight), and
// vocab_size from the token list when the metadata lacks it. It adds
// architectures, which transformers leaves empty, so the document loads on
// its own. Integers are int64 and floats float64 (a FLOAT32 widened
// exactly, as Python does).
func (f *File) HFConfig() (map[string]any, error) {
	archName, err := f.Architecture()
	if err != nil {
		return nil, err
	}
	arch, ok := hfArchs[archName]
	if !ok {
		return nil, fmt.Errorf("%w: %s: architecture %q (llama, qwen2 and qwen3 are supported)", ErrUnsupported, f.name(), archName)
	}
	cfg := map[string]any{
		"model_type":    arch.modelType,
		"architectures": []string{arch.architecture},
	}
	num := func(key string) (any, bool, error) {
		v, ok := f.Get(key)
		if !ok {
			return nil, false, nil
		}
		if i, ok := v.Int(); ok {
			return i, true, nil
		}
		if x, ok := v.Float(); ok {
			return x, true, nil
		}
		return nil, false, fmt.Errorf("gguf: %s: metadata %q is a %s, want a number", f.name(), key, v.typeName())
	}
	keys := hfConfigKeys
	if arch.headDimKey != "" {
		keys = append(keys[:len(keys):len(keys)], struct{ suffix, field string }{arch.headDimKey, "head_dim"})
	}
	for _, k := range keys {
		v, ok, err := num(archName + "." + k.suffix)
		if err != nil {
			return nil, err
		}
		if ok {
			cfg[k.field] = v
		}
	}
	for _, k := range hfTokenKeys {
		v, ok, err := num(k.key)
		if err != nil {
			return nil, err
		}
		if ok {
			cfg[k.field] = v
		}
	}
	for _, req := range []string{"hidden_size", "num_hidden_layers", "num_attention_heads", "intermediate_size"} {
		if _, ok := cfg[req]; !ok {
			return nil, fmt.Errorf("gguf: %s: metadata lacks the %s of a %s model", f.name(), req, archName)
		}
	}
	if theta, ok := cfg["rope_theta"]; ok {
		cfg["rope_parameters"] = map[string]any{"rope_theta": toFloat(theta), "rope_type": "default"}
		cfg["rope_theta"] = toFloat(theta)
	}
	if _, ok := f.Tensor(ropeFreqsTensor); ok {
		if err := f.llama3Rope(cfg, archName); err != nil {
			return nil, err
		}
	}
	if eps, ok := cfg["rms_norm_eps"]; ok {
		cfg["rms_norm_eps"] = toFloat(eps)
	}
	if _, ok := cfg["vocab_size"]; !ok {
		if v, ok := f.Get("tokenizer.ggml.tokens"); ok && v.Type == ValueArray {
			cfg["vocab_size"] = int64(v.Len())
		}
	}
	_, hasOutput := f.Tensor("output.weight")
	cfg["tie_word_embeddings"] = !hasOutput
	return cfg, nil
}

func toFloat(v any) float64 {
	switch x := v.(type) {
	case int64:
		return float64(x)
	case float64:
		return x
	}
	return 0
}

// HFConfigJSON returns HFConfig as an indented config.json document.
func (f *File) HFConfigJSON() ([]byte, error) {
	cfg, err := f.HFConfig()
	if err != nil {
		return nil, err
	}
	b, err := json.MarshalIndent(cfg, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("gguf: %s: config: %w", f.name(), err)
	}
	return append(b, '\n'), nil
}

// llama3Rope sets cfg's rope_parameters from the file's rope_freqs.weight
// (see llama3FromFreqs).
func (f *File) llama3Rope(cfg map[string]any, archName string) error {
	if cfg["model_type"] != "llama" {
		return fmt.Errorf("%w: %s: tensor %s in a %s model (llama.cpp writes it for Llama 3's rope scaling only)", ErrUnsupported, f.name(), ropeFreqsTensor, archName)
	}
	theta := 10000.0
	if t, ok := cfg["rope_theta"].(float64); ok {
		theta = t
	}
	headDim := 0
	if hd, ok := cfg["head_dim"]; ok {
		headDim = int(toFloat(hd))
	} else if h, heads := toFloat(cfg["hidden_size"]), toFloat(cfg["num_attention_heads"]); heads > 0 {
		headDim = int(h / heads)
	}
	freqs, err := f.ReadFloat32(ropeFreqsTensor)
	if err != nil {
		return err
	}
	rp, err := llama3FromFreqs(freqs, theta, headDim)
	if err != nil {
		return fmt.Errorf("%w: %s: %w", ErrUnsupported, f.name(), err)
	}
	if rp != nil {
		cfg["rope_parameters"] = rp
	}
	return nil
}
