package model

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// ErrUnsupported is wrapped by errors for an architecture, model_type or
// option this package does not implement.
var ErrUnsupported = errors.New("not supported")

// ErrInvalidConfig is wrapped by errors for a config.json whose values
// cannot describe a model (zero, negative or absurd sizes, inconsistent
// heads).
var ErrInvalidConfig = errors.New("invalid config")

// Config mirrors HuggingFace's config.json for the families this package
// implements (GPTNeoXConfig, LlamaConfig, MistralConfig, Qwen2Config,
// Qwen3Config), with HF's field names; a field a config omits gets its
// model_type's default from transformers. Which fields apply depends on
// ModelType; MarshalJSON writes those (and keeps keys this struct does not
// know, so a config written back out round-trips).
type Config struct {
	Architectures         []string  `json:"architectures,omitempty"`
	ModelType             string    `json:"model_type"`
	VocabSize             int       `json:"vocab_size"`
	HiddenSize            int       `json:"hidden_size"`
	NumHiddenLayers       int       `json:"num_hidden_layers"`
	NumAttentionHeads     int       `json:"num_attention_heads"`
	IntermediateSize      int       `json:"intermediate_size"`
	HiddenAct             string    `json:"hidden_act"`
	MaxPositionEmbeddings int       `json:"max_position_embeddings"`
	InitializerRange      float64   `json:"initializer_range"`
	UseCache              bool      `json:"use_cache"`
	BOSTokenID            *int      `json:"bos_token_id"`
	EOSTokenID            *TokenIDs `json:"eos_token_id"`
	PadTokenID            *int      `json:"pad_token_id"`
	TieWordEmbeddings     bool      `json:"tie_word_embeddings"`
	AttentionBias         *bool     `json:"attention_bias"`
	AttentionDropout      float64   `json:"attention_dropout"`
	RopeScaling           *Rope     `json:"rope_scaling"`
	TorchDType            string    `json:"torch_dtype,omitempty"`
	TransformersVersion   string    `json:"transformers_version,omitempty"`

	// GPT-NeoX.
	RotaryPct           float64 `json:"rotary_pct"`
	RotaryEmbBase       float64 `json:"rotary_emb_base"`
	LayerNormEps        float64 `json:"layer_norm_eps"`
	UseParallelResidual bool    `json:"use_parallel_residual"`
	HiddenDropout       float64 `json:"hidden_dropout"`
	ClassifierDropout   float64 `json:"classifier_dropout"`

	// Llama, Mistral, Qwen2, Qwen3.
	NumKeyValueHeads    int      `json:"num_key_value_heads"`
	HeadDim             int      `json:"head_dim,omitempty"`
	RMSNormEps          float64  `json:"rms_norm_eps"`
	RopeTheta           *float64 `json:"rope_theta,omitempty"`
	RopeParameters      *Rope    `json:"rope_parameters,omitempty"`
	PartialRotaryFactor *float64 `json:"partial_rotary_factor,omitempty"`
	MLPBias             bool     `json:"mlp_bias"`
	PretrainingTP       int      `json:"pretraining_tp"`
	SlidingWindow       *int     `json:"sliding_window"`
	UseSlidingWindow    bool     `json:"use_sliding_window"`
	MaxWindowLayers     int      `json:"max_window_layers"`
	LayerTypes          []string `json:"layer_types,omitempty"`

	// Computed by Validate.

	// HeadSize is the per-head dimension: head_dim, or hidden_size /
	// num_attention_heads where the config has none.
	HeadSize int `json:"-"`
	// KVHeads is the number of key/value heads (num_key_value_heads, or
	// num_attention_heads without grouped-query attention).
	KVHeads int `json:"-"`
	// RotaryNDims is the leading q/k dims of each head that rotate:
	// int(head_size × rotary_pct or partial_rotary_factor).
	RotaryNDims int `json:"-"`
	// Rope is the resolved rotary embedding (type, base and scaling).
	Rope Rope `json:"-"`
	// Window is the sliding attention window in positions, 0 for none.
	Window int `json:"-"`

	raw map[string]json.RawMessage // the parsed file, for keys we do not model
}

// TokenIDs is a token id field that HF writes as a number or a list
// (Llama 3's eos_token_id); it marshals back in the form it was read.
type TokenIDs struct {
	IDs    []int
	IsList bool
}

// UnmarshalJSON accepts a number or a list of numbers.
func (t *TokenIDs) UnmarshalJSON(b []byte) error {
	if bytes.HasPrefix(bytes.TrimSpace(b), []byte("[")) {
		t.IsList = true
		return json.Unmarshal(b, &t.IDs)
	}
	var id int
	if err := json.Unmarshal(b, &id); err != nil {
		return err
	}
	t.IDs, t.IsList = []int{id}, false
	return nil
}

// MarshalJSON writes a number or a list, as read.
func (t TokenIDs) MarshalJSON() ([]byte, error) {
	if t.IsList || len(t.IDs) != 1 {
		return json.Marshal(t.IDs)
	}
	return json.Marshal(t.IDs[0])
}

// IDsOf returns a TokenIDs holding one id.
func IDsOf(id int) *TokenIDs { return &TokenIDs{IDs: []int{id}} }

// Rope mirrors HF's rope_scaling / rope_parameters dictionary. Zero values
// mean the key was absent.
type Rope struct {
	RopeType                      string   `json:"rope_type,omitempty"`
	Type                          string   `json:"type,omitempty"` // legacy spelling of rope_type
	RopeTheta                     float64  `json:"rope_theta,omitempty"`
	PartialRotaryFactor           float64  `json:"partial_rotary_factor,omitempty"`
	Factor                        float64  `json:"factor,omitempty"`
	OriginalMaxPositionEmbeddings int      `json:"original_max_position_embeddings,omitempty"`
	LowFreqFactor                 float64  `json:"low_freq_factor,omitempty"`
	HighFreqFactor                float64  `json:"high_freq_factor,omitempty"`
	AttentionFactor               *float64 `json:"attention_factor,omitempty"`
	BetaFast                      float64  `json:"beta_fast,omitempty"`
	BetaSlow                      float64  `json:"beta_slow,omitempty"`
	Mscale                        float64  `json:"mscale,omitempty"`
	MscaleAllDim                  float64  `json:"mscale_all_dim,omitempty"`
	Truncate                      *bool    `json:"truncate,omitempty"`
}

// UnmarshalJSON rejects keys we do not implement (long_factor, …): a rope
// option silently ignored would be a different model.
func (r *Rope) UnmarshalJSON(b []byte) error {
	type plain Rope
	d := json.NewDecoder(bytes.NewReader(b))
	d.DisallowUnknownFields()
	var p plain
	if err := d.Decode(&p); err != nil {
		return fmt.Errorf("rope parameters: %w (%w)", err, ErrUnsupported)
	}
	*r = Rope(p)
	return nil
}

// Limits on config values: far above any released model, low enough that
// every size computed from them fits an int64 and a config claiming
// billions of layers is refused before anything is allocated.
const (
	maxLayers     = 1024
	maxHidden     = 1 << 17
	maxHeads      = 1024
	maxHeadDim    = 4096
	maxVocab      = 1 << 24
	maxPositions  = 1 << 24
	maxFFN        = 1 << 20
	maxTokenIDVal = 1 << 31
)

// DefaultConfig returns HF's GPTNeoXConfig defaults for the fields a
// config.json may omit (the values of GPTNeoXConfig.__init__).
func DefaultConfig() Config {
	c, _ := DefaultConfigFor("gpt_neox")
	return c
}

// DefaultConfigFor returns transformers' defaults for model_type.
func DefaultConfigFor(modelType string) (Config, error) {
	f, ok := families[modelType]
	if !ok {
		return Config{}, fmt.Errorf("model_type %q is %w (one of %s)", modelType, ErrUnsupported, familyNames())
	}
	return f.defaults(), nil
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

// ParseConfig parses config.json bytes; name is used in errors. Defaults
// come from the file's model_type.
func ParseConfig(b []byte, name string) (Config, error) {
	var head struct {
		ModelType string `json:"model_type"`
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil {
		return Config{}, fmt.Errorf("model: %s: %w", name, err)
	}
	if err := json.Unmarshal(b, &head); err != nil {
		return Config{}, fmt.Errorf("model: %s: model_type: %w", name, err)
	}
	if head.ModelType == "" {
		return Config{}, fmt.Errorf("model: %s: no model_type (%w)", name, ErrInvalidConfig)
	}
	c, err := DefaultConfigFor(head.ModelType)
	if err != nil {
		return Config{}, fmt.Errorf("model: %s: %w", name, err)
	}
	if err := json.Unmarshal(b, &c); err != nil {
		return Config{}, fmt.Errorf("model: %s: %w", name, err)
	}
	c.raw = raw
	if err := c.Validate(); err != nil {
		return Config{}, fmt.Errorf("model: %s: %w", name, err)
	}
	return c, nil
}

func invalid(format string, args ...any) error {
	return fmt.Errorf("%s (%w)", fmt.Sprintf(format, args...), ErrInvalidConfig)
}

// Validate checks the architecture is one we implement and every size is
// sane, naming the field at fault, and fills the computed fields.
func (c *Config) Validate() error {
	f, ok := families[c.ModelType]
	if !ok {
		return fmt.Errorf("model_type %q is %w (one of %s)", c.ModelType, ErrUnsupported, familyNames())
	}
	for _, a := range c.Architectures {
		if a != f.arch {
			return fmt.Errorf("architecture %q is %w for model_type %q (only %s)", a, ErrUnsupported, c.ModelType, f.arch)
		}
	}
	bounded := []struct {
		field  string
		v, max int
	}{
		{"vocab_size", c.VocabSize, maxVocab},
		{"hidden_size", c.HiddenSize, maxHidden},
		{"num_hidden_layers", c.NumHiddenLayers, maxLayers},
		{"num_attention_heads", c.NumAttentionHeads, maxHeads},
		{"intermediate_size", c.IntermediateSize, maxFFN},
		{"max_position_embeddings", c.MaxPositionEmbeddings, maxPositions},
	}
	for _, b := range bounded {
		if b.v <= 0 || b.v > b.max {
			return invalid("%s %d must be in 1…%d", b.field, b.v, b.max)
		}
	}
	for _, t := range []struct {
		field string
		ids   []int
	}{{"bos_token_id", ptrIDs(c.BOSTokenID)}, {"pad_token_id", ptrIDs(c.PadTokenID)}, {"eos_token_id", c.eosIDs()}} {
		for _, id := range t.ids {
			if id < 0 || id >= maxTokenIDVal {
				return invalid("%s %d is out of range", t.field, id)
			}
		}
	}
	if c.InitializerRange < 0 {
		return invalid("initializer_range %v must not be negative", c.InitializerRange)
	}
	if err := f.validate(c); err != nil {
		return err
	}
	if c.RotaryNDims < 0 || c.RotaryNDims > c.HeadSize || c.RotaryNDims%2 != 0 {
		return invalid("rotary dims %d (head size %d × rotary fraction) must be even and at most the head size", c.RotaryNDims, c.HeadSize)
	}
	return nil
}

func ptrIDs(p *int) []int {
	if p == nil {
		return nil
	}
	return []int{*p}
}

func (c *Config) eosIDs() []int {
	if c.EOSTokenID == nil {
		return nil
	}
	return c.EOSTokenID.IDs
}

// HasAttentionBias reports whether the attention projections have biases
// (GPT-NeoX's query_key_value and dense; Llama's and Qwen3's q/k/v/o).
func (c *Config) HasAttentionBias() bool {
	if c.ModelType == "gpt_neox" {
		return c.AttentionBias == nil || *c.AttentionBias
	}
	return c.AttentionBias != nil && *c.AttentionBias
}

// EOS returns the first eos_token_id, or -1 when the config has none.
func (c *Config) EOS() int {
	if ids := c.eosIDs(); len(ids) > 0 {
		return ids[0]
	}
	return -1
}

// EOSIDs returns every eos_token_id (Llama 3 lists several).
func (c *Config) EOSIDs() []int { return append([]int(nil), c.eosIDs()...) }

// Family is the model's HF class name (GPTNeoXForCausalLM, LlamaForCausalLM…).
func (c *Config) Family() string {
	if f, ok := families[c.ModelType]; ok {
		return f.arch
	}
	return c.ModelType
}

// MarshalJSON writes the fields of the config's model_type under HF's
// names, plus any keys of the file it was parsed from that this struct does
// not model.
func (c Config) MarshalJSON() ([]byte, error) {
	type plain Config
	b, err := json.Marshal(plain(c))
	if err != nil {
		return nil, err
	}
	var all map[string]json.RawMessage
	if err := json.Unmarshal(b, &all); err != nil {
		return nil, err
	}
	keep := map[string]bool{}
	for _, k := range commonKeys {
		keep[k] = true
	}
	if f, ok := families[c.ModelType]; ok {
		for _, k := range f.keys {
			keep[k] = true
		}
	}
	out := map[string]json.RawMessage{}
	for k, v := range c.raw {
		if _, modelled := all[k]; !modelled && !isKnownKey(k) {
			out[k] = v
		}
	}
	for k, v := range all {
		if keep[k] {
			out[k] = v
		}
	}
	if _, ok := out["dtype"]; ok && c.TorchDType != "" {
		// transformers 5 names it dtype: one value, the weights' own.
		out["dtype"], _ = json.Marshal(c.TorchDType)
	}
	keys := make([]string, 0, len(out))
	for k := range out {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var buf bytes.Buffer
	buf.WriteByte('{')
	for i, k := range keys {
		if i > 0 {
			buf.WriteByte(',')
		}
		kb, _ := json.Marshal(k)
		buf.Write(kb)
		buf.WriteByte(':')
		buf.Write(out[k])
	}
	buf.WriteByte('}')
	return buf.Bytes(), nil
}

// commonKeys are written for every model_type.
var commonKeys = []string{"architectures", "model_type", "vocab_size", "hidden_size", "num_hidden_layers",
	"num_attention_heads", "intermediate_size", "hidden_act", "max_position_embeddings", "initializer_range",
	"use_cache", "bos_token_id", "eos_token_id", "pad_token_id", "tie_word_embeddings", "attention_dropout",
	"torch_dtype", "transformers_version"}

// isKnownKey reports whether k is a config.json key of any family we model
// (a key of another family is not carried over from the raw file).
func isKnownKey(k string) bool {
	for _, c := range commonKeys {
		if c == k {
			return true
		}
	}
	for _, f := range families {
		for _, c := range f.keys {
			if c == k {
				return true
			}
		}
	}
	return false
}

func familyNames() string {
	var ns []string
	for k := range families {
		ns = append(ns, k)
	}
	sort.Strings(ns)
	return strings.Join(ns, ", ")
}

// geluApproximation maps HF's hidden_act names to libtorch's gelu approximate argument.
func geluApproximation(act string) (string, error) {
	switch act {
	case "gelu":
		return "none", nil
	case "gelu_new", "gelu_pytorch_tanh", "gelu_fast":
		return "tanh", nil
	}
	return "", fmt.Errorf("hidden_act %q is %w (gelu, gelu_new, gelu_pytorch_tanh, gelu_fast)", act, ErrUnsupported)
}
