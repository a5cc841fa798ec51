// Package lora is LoRA (low-rank adaptation) in HF PEFT's format: an
// adapter adds scale·B·A to chosen linear projections of a frozen model
// (y = x·Wᵀ + b + scale·(dropout(x)·Aᵀ)·Bᵀ), is trained alone, and is saved
// and loaded as PEFT's adapter_config.json and adapter_model.safetensors
// (tensors base_model.model.<module path>.lora_A.weight [r, in] and
// .lora_B.weight [out, r]), so adapters move between golamini and
// PeftModel.from_pretrained unchanged. Merge folds an adapter into the base
// weights. Tensor work runs on the torch worker thread (torch.Do).
package lora

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"strings"
)

// File names of a PEFT adapter directory.
const (
	ConfigFile  = "adapter_config.json"
	WeightsFile = "adapter_model.safetensors"
)

// ErrMismatch is wrapped by errors about an adapter that does not fit the
// model it is loaded onto (absent modules, other shapes).
var ErrMismatch = errors.New("adapter does not match the model")

// ErrUnsupported is wrapped by errors about adapter_config.json settings
// golamini does not implement (DoRA, rank patterns, LoRA biases, …).
var ErrUnsupported = errors.New("unsupported adapter setting")

// Config mirrors PEFT's LoraConfig as adapter_config.json stores it.
// golamini reads every field PEFT writes and refuses (ErrUnsupported) the
// settings it does not implement rather than loading a different adapter
// than the one trained.
type Config struct {
	PeftType            string  `json:"peft_type"` // "LORA"
	TaskType            string  `json:"task_type"` // "CAUSAL_LM"
	BaseModelNameOrPath *string `json:"base_model_name_or_path"`
	Revision            *string `json:"revision"`
	InferenceMode       bool    `json:"inference_mode"`

	R           int     `json:"r"`          // rank
	LoraAlpha   float64 `json:"lora_alpha"` // scale = lora_alpha / r (or / √r with use_rslora)
	LoraDropout float64 `json:"lora_dropout"`
	// TargetModules names the adapted projections: a list of module names,
	// each matching a module path equal to it or ending in "."+name, or one
	// string, a regular expression the whole path must match (PEFT's rules).
	TargetModules  Targets  `json:"target_modules"`
	ExcludeModules *Targets `json:"exclude_modules"`
	Bias           string   `json:"bias"` // "none" only
	UseRSLoRA      bool     `json:"use_rslora"`
	FanInFanOut    bool     `json:"fan_in_fan_out"`
	// ModulesToSave lists modules trained and saved whole beside the
	// low-rank updates. golamini implements the output head: "lm_head"
	// (every family's module name in transformers 5) or "embed_out"
	// (GPT-NeoX's in transformers 4, written back as "lm_head").
	ModulesToSave   []string `json:"modules_to_save"`
	InitLoraWeights any      `json:"init_lora_weights"` // true = PEFT's default (A Kaiming-uniform, B zero)

	LayersToTransform any                `json:"layers_to_transform"`
	LayersPattern     any                `json:"layers_pattern"`
	RankPattern       map[string]int     `json:"rank_pattern"`
	AlphaPattern      map[string]float64 `json:"alpha_pattern"`
	UseDoRA           bool               `json:"use_dora"`
	LoraBias          bool               `json:"lora_bias"`
	LayerReplication  any                `json:"layer_replication"`
	TargetParameters  any                `json:"target_parameters"`
	TrainableTokens   any                `json:"trainable_token_indices"`
	MegatronConfig    any                `json:"megatron_config"`
	MegatronCore      string             `json:"megatron_core"`
	LoftQConfig       map[string]any     `json:"loftq_config"`
	AutoMapping       any                `json:"auto_mapping"`
	PeftVersion       string             `json:"peft_version,omitempty"`
}

// Targets is target_modules: a list of names, or (Regexp set) one regular
// expression.
type Targets struct {
	Names  []string
	Regexp string
}

// MarshalJSON writes a list, or the expression as a string.
func (t Targets) MarshalJSON() ([]byte, error) {
	if t.Regexp != "" {
		return json.Marshal(t.Regexp)
	}
	if t.Names == nil {
		return []byte("null"), nil
	}
	return json.Marshal(t.Names)
}

// UnmarshalJSON reads a list or a string.
func (t *Targets) UnmarshalJSON(b []byte) error {
	*t = Targets{}
	if string(b) == "null" {
		return nil
	}
	if len(b) > 0 && b[0] == '"' {
		return json.Unmarshal(b, &t.Regexp)
	}
	return json.Unmarshal(b, &t.Names)
}

// matches reports whether module path is selected: by a full match of the
// expression, or by a name equal to the path or to its last dotted parts.
func (t Targets) matches(path string) (bool, error) {
	if t.Regexp != "" {
		re, err := regexp.Compile(`^(?:` + t.Regexp + `)$`)
		if err != nil {
			return false, fmt.Errorf("target_modules %q: %w", t.Regexp, err)
		}
		return re.MatchString(path), nil
	}
	for _, n := range t.Names {
		if path == n || strings.HasSuffix(path, "."+n) {
			return true, nil
		}
	}
	return false, nil
}

// DefaultTargets returns PEFT's default target_modules for a model_type
// (PEFT's TRANSFORMERS_MODELS_TO_LORA_TARGET_MODULES_MAPPING).
func DefaultTargets(modelType string) ([]string, bool) {
	switch modelType {
	case "gpt_neox":
		return []string{"query_key_value"}, true
	case "llama", "mistral", "qwen2", "qwen3", "gemma", "gemma2", "mixtral", "phi3":
		return []string{"q_proj", "v_proj"}, true
	}
	return nil, false
}

// NewConfig returns PEFT's LoraConfig defaults with rank r, lora_alpha
// alpha, dropout p and targets (nil: the model type's PEFT default).
func NewConfig(r int, alpha, dropout float64, targets []string) Config {
	return Config{PeftType: "LORA", TaskType: "CAUSAL_LM", R: r, LoraAlpha: alpha, LoraDropout: dropout,
		TargetModules: Targets{Names: targets}, Bias: "none", InitLoraWeights: true,
		RankPattern: map[string]int{}, AlphaPattern: map[string]float64{}, LoftQConfig: map[string]any{},
		MegatronCore: "megatron.core"}
}

// Scale is the factor of the low-rank update: lora_alpha/r, or
// lora_alpha/√r with use_rslora.
func (c *Config) Scale() float64 {
	if c.UseRSLoRA {
		return c.LoraAlpha / math.Sqrt(float64(c.R))
	}
	return c.LoraAlpha / float64(c.R)
}

// Validate reports settings that cannot work or that golamini does not
// implement, naming the adapter_config.json field.
func (c *Config) Validate() error {
	bad := func(field string, v any, why string) error {
		return fmt.Errorf("lora: %s = %v: %s", field, v, why)
	}
	unsup := func(field string, v any) error {
		return fmt.Errorf("lora: %s = %v: %w (golamini implements plain LoRA)", field, v, ErrUnsupported)
	}
	switch {
	case c.PeftType != "" && c.PeftType != "LORA":
		return fmt.Errorf("lora: peft_type = %q: %w (only LORA)", c.PeftType, ErrUnsupported)
	case c.TaskType != "" && c.TaskType != "CAUSAL_LM":
		return fmt.Errorf("lora: task_type = %q: %w (only CAUSAL_LM)", c.TaskType, ErrUnsupported)
	case c.R < 1:
		return bad("r", c.R, "must be ≥ 1")
	case c.LoraDropout < 0 || c.LoraDropout >= 1:
		return bad("lora_dropout", c.LoraDropout, "must be in [0, 1)")
	case math.IsNaN(c.LoraAlpha) || math.IsInf(c.LoraAlpha, 0):
		return bad("lora_alpha", c.LoraAlpha, "must be finite")
	case c.Bias != "" && c.Bias != "none":
		return unsup("bias", c.Bias)
	case c.FanInFanOut:
		return unsup("fan_in_fan_out", true)
	case c.UseDoRA:
		return unsup("use_dora", true)
	case c.LoraBias:
		return unsup("lora_bias", true)
	case len(c.RankPattern) > 0:
		return unsup("rank_pattern", c.RankPattern)
	case len(c.AlphaPattern) > 0:
		return unsup("alpha_pattern", c.AlphaPattern)
	case c.LayersToTransform != nil:
		return unsup("layers_to_transform", c.LayersToTransform)
	case c.LayerReplication != nil:
		return unsup("layer_replication", c.LayerReplication)
	case c.TargetParameters != nil:
		return unsup("target_parameters", c.TargetParameters)
	case c.TrainableTokens != nil:
		return unsup("trainable_token_indices", c.TrainableTokens)
	case c.ExcludeModules != nil && (len(c.ExcludeModules.Names) > 0 || c.ExcludeModules.Regexp != ""):
		return unsup("exclude_modules", *c.ExcludeModules)
	case len(c.TargetModules.Names) == 0 && c.TargetModules.Regexp == "":
		return bad("target_modules", "[]", "names no module")
	}
	for _, n := range c.ModulesToSave {
		if !IsHeadModule(n) {
			return fmt.Errorf("lora: modules_to_save = %v: %q: %w (golamini saves only the output head whole: lm_head, or GPT-NeoX's embed_out)", c.ModulesToSave, n, ErrUnsupported)
		}
	}
	if c.TargetModules.Regexp == "" {
		for _, n := range c.TargetModules.Names {
			if n == "all-linear" {
				return unsup("target_modules", n)
			}
		}
	}
	return nil
}

// ReadConfig reads dir/adapter_config.json.
func ReadConfig(dir string) (Config, error) {
	path := filepath.Join(dir, ConfigFile)
	b, err := os.ReadFile(path)
	if err != nil {
		return Config{}, fmt.Errorf("lora: %w", err)
	}
	var c Config
	if err := json.Unmarshal(b, &c); err != nil {
		return Config{}, fmt.Errorf("lora: %s: %w", path, err)
	}
	if err := c.Validate(); err != nil {
		return Config{}, fmt.Errorf("%w (in %s)", err, path)
	}
	return c, nil
}

// HeadModule is the output head's module name in adapter_config.json's
// modules_to_save and in tensor names: transformers 5 names every family's
// head lm_head (GPT-NeoX's too, whose checkpoints call it embed_out).
const HeadModule = "lm_head"

// IsHeadModule reports whether a modules_to_save entry names the output
// head: lm_head, or embed_out (GPT-NeoX in transformers 4), alone or as
// the end of a dotted path.
func IsHeadModule(name string) bool {
	for _, h := range []string{"lm_head", "embed_out"} {
		if name == h || strings.HasSuffix(name, "."+h) {
			return true
		}
	}
	return false
}

// savesHead reports whether modules_to_save asks for the output head.
func (c *Config) savesHead() bool { return len(c.ModulesToSave) > 0 }
