package model

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// Config mirrors HuggingFace's GPTNeoXConfig (config.json). Fields we do not
// use are kept so that a config written back out round-trips.
type Config struct {
	Architectures         []string `json:"architectures,omitempty"`
	ModelType             string   `json:"model_type"`
	VocabSize             int      `json:"vocab_size"`
	HiddenSize            int      `json:"hidden_size"`
	NumHiddenLayers       int      `json:"num_hidden_layers"`
	NumAttentionHeads     int      `json:"num_attention_heads"`
	IntermediateSize      int      `json:"intermediate_size"`
	HiddenAct             string   `json:"hidden_act"`
	RotaryPct             float64  `json:"rotary_pct"`
	RotaryEmbBase         float64  `json:"rotary_emb_base"`
	MaxPositionEmbeddings int      `json:"max_position_embeddings"`
	InitializerRange      float64  `json:"initializer_range"`
	LayerNormEps          float64  `json:"layer_norm_eps"`
	UseCache              bool     `json:"use_cache"`
	BOSTokenID            *int     `json:"bos_token_id,omitempty"`
	EOSTokenID            *int     `json:"eos_token_id,omitempty"`
	TieWordEmbeddings     bool     `json:"tie_word_embeddings"`
	UseParallelResidual   bool     `json:"use_parallel_residual"`
	AttentionBias         *bool    `json:"attention_bias,omitempty"`
	AttentionDropout      float64  `json:"attention_dropout"`
	HiddenDropout         float64  `json:"hidden_dropout"`
	ClassifierDropout     float64  `json:"classifier_dropout,omitempty"`
	RopeScaling           any      `json:"rope_scaling"`
	TorchDType            string   `json:"torch_dtype,omitempty"`
	TransformersVersion   string   `json:"transformers_version,omitempty"`

	// HeadSize is hidden_size / num_attention_heads.
	HeadSize int `json:"-"`
	// RotaryNDims is int(head_size × rotary_pct): the leading q/k dims that rotate.
	RotaryNDims int `json:"-"`
}

// DefaultConfig returns HF's GPTNeoXConfig defaults for the fields a
// config.json may omit (the values of GPTNeoXConfig.__init__).
func DefaultConfig() Config {
	bos, eos := 0, 2
	bias := true
	return Config{
		ModelType:             "gpt_neox",
		VocabSize:             50432,
		HiddenSize:            6144,
		NumHiddenLayers:       44,
		NumAttentionHeads:     64,
		IntermediateSize:      24576,
		HiddenAct:             "gelu",
		RotaryPct:             0.25,
		RotaryEmbBase:         10000,
		MaxPositionEmbeddings: 2048,
		InitializerRange:      0.02,
		LayerNormEps:          1e-5,
		UseCache:              true,
		BOSTokenID:            &bos,
		EOSTokenID:            &eos,
		UseParallelResidual:   true,
		AttentionBias:         &bias,
		ClassifierDropout:     0.1,
	}
}

// LoadConfig reads and validates dir/config.json.
func LoadConfig(dir string) (Config, error) {
	path := filepath.Join(dir, "config.json")
	b, err := os.ReadFile(path)
	if err != nil {
		return Config{}, fmt.Errorf("model: read config: %w", err)
	}
	return ParseConfig(b, path)
}

// ParseConfig parses config.json bytes; name is used in errors.
func ParseConfig(b []byte, name string) (Config, error) {
	c := DefaultConfig()
	if err := json.Unmarshal(b, &c); err != nil {
		return Config{}, fmt.Errorf("model: %s: %w", name, err)
	}
	if err := c.Validate(); err != nil {
		return Config{}, fmt.Errorf("model: %s: %w", name, err)
	}
	return c, nil
}

// Validate checks the architecture is one we implement and fills the
// computed fields.
func (c *Config) Validate() error {
	if c.ModelType != "gpt_neox" {
		return fmt.Errorf("model_type %q is not supported (only gpt_neox: GPT-NeoX/Pythia)", c.ModelType)
	}
	for _, a := range c.Architectures {
		if a != "GPTNeoXForCausalLM" {
			return fmt.Errorf("architecture %q is not supported (only GPTNeoXForCausalLM)", a)
		}
	}
	switch {
	case c.VocabSize <= 0:
		return errors.New("vocab_size must be positive")
	case c.HiddenSize <= 0 || c.NumAttentionHeads <= 0 || c.HiddenSize%c.NumAttentionHeads != 0:
		return fmt.Errorf("hidden_size %d must be a positive multiple of num_attention_heads %d", c.HiddenSize, c.NumAttentionHeads)
	case c.NumHiddenLayers <= 0:
		return errors.New("num_hidden_layers must be positive")
	case c.IntermediateSize <= 0:
		return errors.New("intermediate_size must be positive")
	case c.MaxPositionEmbeddings <= 0:
		return errors.New("max_position_embeddings must be positive")
	case c.RotaryPct < 0 || c.RotaryPct > 1:
		return fmt.Errorf("rotary_pct %v must be in [0, 1]", c.RotaryPct)
	case c.LayerNormEps <= 0:
		return fmt.Errorf("layer_norm_eps %v must be positive", c.LayerNormEps)
	}
	if _, err := geluApproximation(c.HiddenAct); err != nil {
		return err
	}
	if c.RopeScaling != nil {
		return fmt.Errorf("rope_scaling %v is not supported", c.RopeScaling)
	}
	c.HeadSize = c.HiddenSize / c.NumAttentionHeads
	c.RotaryNDims = int(float64(c.HeadSize) * c.RotaryPct)
	if c.RotaryNDims%2 != 0 {
		return fmt.Errorf("rotary dims %d (head_size %d × rotary_pct %v) must be even", c.RotaryNDims, c.HeadSize, c.RotaryPct)
	}
	return nil
}

// HasAttentionBias reports whether query_key_value and dense have biases.
func (c *Config) HasAttentionBias() bool { return c.AttentionBias == nil || *c.AttentionBias }

// EOS returns eos_token_id, or -1 when the config has none.
func (c *Config) EOS() int {
	if c.EOSTokenID == nil {
		return -1
	}
	return *c.EOSTokenID
}

// geluApproximation maps HF's hidden_act names to libtorch's gelu approximate argument.
func geluApproximation(act string) (string, error) {
	switch act {
	case "gelu":
		return "none", nil
	case "gelu_new", "gelu_pytorch_tanh", "gelu_fast":
		return "tanh", nil
	}
	return "", fmt.Errorf("hidden_act %q is not supported (gelu, gelu_new, gelu_pytorch_tanh, gelu_fast)", act)
}
