package model

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/golamini/golamini/internal/testutil"
	"github.com/golamini/golamini/internal/torch"
)

// familyGoldens mirrors testdata/families/goldens.json
// (scripts/reference/family_goldens.py, transformers 5).
type familyGoldens struct {
	Prompts [][]int `json:"prompts"`
	Cases   []struct {
		Name      string      `json:"name"`
		ModelType string      `json:"model_type"`
		DType     string      `json:"dtype"`
		Format    string      `json:"format"`
		IDs       []int       `json:"logits_ids"`
		Logits    [][]float64 `json:"logits"`
	} `json:"cases"`
}

func loadFamilyGoldens(t *testing.T) familyGoldens {
	t.Helper()
	b, err := os.ReadFile(testutil.Testdata(t, "families", "goldens.json"))
	if err != nil {
		t.Fatal(err)
	}
	var g familyGoldens
	if err := json.Unmarshal(b, &g); err != nil {
		t.Fatal(err)
	}
	return g
}

func closeLogits(what string, got []float32, want []float64) error {
	if len(got) != len(want) {
		return fmt.Errorf("%s: %d logits, want %d", what, len(got), len(want))
	}
	for i := range want {
		if d := math.Abs(float64(got[i]) - want[i]); d > 1e-4 {
			return fmt.Errorf("%s: logit %d = %v, transformers %v (diff %.2g)", what, i, got[i], want[i], d)
		}
	}
	return nil
}

// Every Llama-style case (GQA, biases, q/k norms, tied and untied, each
// rope type, fp32/fp16/bf16 in safetensors, sharded safetensors and .bin)
// gives transformers' logits within 1e-4: in one pass (past Mistral's
// window and the dynamic rope's max_position_embeddings), and token by
// token through the KV cache after a prefill.
func TestFamilyLogitsMatchTransformers(t *testing.T) {
	g := loadFamilyGoldens(t)
	for _, c := range g.Cases {
		t.Run(c.Name, func(t *testing.T) {
			err := torch.Do(context.Background(), func() error {
				m, err := Load(context.Background(), testutil.Testdata(t, "families", c.Name), DefaultLoadOptions())
				if err != nil {
					return err
				}
				defer m.Free()
				if got := m.Config.Family(); !strings.EqualFold(got, c.ModelType+"ForCausalLM") {
					t.Errorf("family %s for model_type %s", got, c.ModelType)
				}
				out, err := forwardBatch(m, [][]int{c.IDs})
				if err != nil {
					return err
				}
				for j := range c.IDs {
					if err := closeLogits("full pass, position "+itoa(j), out[0][j], c.Logits[j]); err != nil {
						return err
					}
				}
				// Prefill 5, then one token at a time through the cache. Not
				// for dynamic rope past max_position_embeddings: there the
				// frequencies depend on the longest sequence of the call, so
				// a token's logits differ between one pass and incremental
				// decoding, in transformers as here (generation covers it).
				if m.Config.Rope.RopeType == "dynamic" && len(c.IDs) > m.Config.MaxPositionEmbeddings {
					return nil
				}
				defer torch.NoGrad()()
				cache, err := m.NewCache(1, int64(len(c.IDs)))
				if err != nil {
					return err
				}
				defer cache.Free()
				for start := 0; start < len(c.IDs); {
					n := 1
					if start == 0 {
						n = 5
					}
					s := torch.NewScope()
					ids := make([]int64, n)
					for i := range ids {
						ids[i] = int64(c.IDs[start+i])
					}
					lg := m.Logits(s, m.Forward(s, s.Int64(ids, 1, int64(n)), Pass{Cache: cache}))
					if err := s.Err(); err != nil {
						s.Close()
						return err
					}
					flat, err := lg.Float32s()
					s.Close()
					if err != nil {
						return err
					}
					V := m.Config.VocabSize
					for i := 0; i < n; i++ {
						if err := closeLogits("cached, position "+itoa(start+i), flat[i*V:(i+1)*V], c.Logits[start+i]); err != nil {
							return err
						}
					}
					start += n
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
		})
	}
}

func itoa(i int) string { b, _ := json.Marshal(i); return string(b) }

// report.json mirrors what transformers says of the real configs.
type familyReport map[string]struct {
	Parameters                  int64  `json:"parameters"`
	ParametersWithoutEmbeddings int64  `json:"parameters_without_embeddings"`
	FLOPs1024                   int64  `json:"flops_1024"`
	MemoryFootprintFP32         int64  `json:"memory_footprint_fp32"`
	ModuleTree                  string `json:"module_tree"`
}

// Parameters, FLOPs, memory footprint and module tree of SmolLM2-135M and
// -360M, Qwen2.5-0.5B, Qwen3-0.6B and Llama-3.2-1B equal transformers'
// for their config.json alone.
func TestFamilyReportMatchesTransformers(t *testing.T) {
	b, err := os.ReadFile(testutil.Testdata(t, "families", "report.json"))
	if err != nil {
		t.Fatal(err)
	}
	var rep familyReport
	if err := json.Unmarshal(b, &rep); err != nil {
		t.Fatal(err)
	}
	if len(rep) != 5 {
		t.Fatalf("%d configs in report.json, want 5", len(rep))
	}
	for file, want := range rep {
		t.Run(file, func(t *testing.T) {
			raw, err := os.ReadFile(testutil.Testdata(t, "families", "configs", file))
			if err != nil {
				t.Fatal(err)
			}
			c, err := ParseConfig(raw, file)
			if err != nil {
				t.Fatal(err)
			}
			if got := c.NumParameters(false); got != want.Parameters {
				t.Errorf("parameters %d, transformers %d", got, want.Parameters)
			}
			if got := c.NumParameters(true); got != want.ParametersWithoutEmbeddings {
				t.Errorf("parameters without embeddings %d, transformers %d", got, want.ParametersWithoutEmbeddings)
			}
			if got := c.FLOPs(1024); got != want.FLOPs1024 {
				t.Errorf("FLOPs(1024) %d, transformers %d", got, want.FLOPs1024)
			}
			if got := c.HFMemoryFootprint(torch.Float32); got != want.MemoryFootprintFP32 {
				t.Errorf("memory footprint %d, transformers %d", got, want.MemoryFootprintFP32)
			}
			if got := c.ModuleTree(); got != want.ModuleTree {
				t.Errorf("module tree:\n%s\ntransformers:\n%s", got, want.ModuleTree)
			}
		})
	}
}

// A config written back out (as the trainer saves it) parses to the same
// model and keeps the keys we do not model; fields of other families are
// not written.
func TestFamilyConfigRoundTrip(t *testing.T) {
	raw, err := os.ReadFile(testutil.Testdata(t, "families", "configs", "llama-3.2-1b.json"))
	if err != nil {
		t.Fatal(err)
	}
	c, err := ParseConfig(raw, "llama")
	if err != nil {
		t.Fatal(err)
	}
	out, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	var keys map[string]any
	if err := json.Unmarshal(out, &keys); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"rotary_pct", "layer_norm_eps", "use_parallel_residual", "sliding_window"} {
		if _, ok := keys[k]; ok {
			t.Errorf("llama config written with %q", k)
		}
	}
	c.TorchDType = "float32"
	raw5 := strings.Replace(string(raw), `"torch_dtype": "bfloat16"`, `"dtype": "bfloat16"`, 1)
	c5, err := ParseConfig([]byte(raw5), "v5")
	if err != nil {
		t.Fatal(err)
	}
	c5.TorchDType = "float32"
	if out5, _ := json.Marshal(c5); !strings.Contains(string(out5), `"dtype":"float32"`) || strings.Contains(string(out5), "bfloat16") {
		t.Errorf("transformers 5's dtype key not rewritten: %s", out5)
	}
	c2, err := ParseConfig(out, "written")
	if err != nil {
		t.Fatal(err)
	}
	if c2.Rope != c.Rope || c2.NumParameters(false) != c.NumParameters(false) || c2.KVHeads != 8 || c2.HeadSize != 64 {
		t.Errorf("round trip changed the model: %+v vs %+v", c2.Rope, c.Rope)
	}
}

// Bad config values are refused before anything is allocated, with an
// error naming the field; options we do not implement are ErrUnsupported.
func TestConfigValidation(t *testing.T) {
	base := `"model_type": "llama", "vocab_size": 128, "hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2, "max_position_embeddings": 64`
	cases := []struct {
		extra, field string
		want         error
	}{
		{`"num_hidden_layers": 2147483648`, "num_hidden_layers", ErrInvalidConfig},
		{`"num_hidden_layers": 0`, "num_hidden_layers", ErrInvalidConfig},
		{`"num_hidden_layers": -3`, "num_hidden_layers", ErrInvalidConfig},
		{`"hidden_size": 0`, "hidden_size", ErrInvalidConfig},
		{`"hidden_size": 1099511627776`, "hidden_size", ErrInvalidConfig},
		{`"intermediate_size": -1`, "intermediate_size", ErrInvalidConfig},
		{`"vocab_size": 4294967296`, "vocab_size", ErrInvalidConfig},
		{`"num_attention_heads": 0`, "num_attention_heads", ErrInvalidConfig},
		{`"num_key_value_heads": 3`, "num_key_value_heads", ErrInvalidConfig},
		{`"max_position_embeddings": 0`, "max_position_embeddings", ErrInvalidConfig},
		{`"max_position_embeddings": 1000000000000`, "max_position_embeddings", ErrInvalidConfig},
		{`"head_dim": 100000`, "head_dim", ErrInvalidConfig},
		{`"rms_norm_eps": 0`, "rms_norm_eps", ErrInvalidConfig},
		{`"rope_theta": -1`, "rope_theta", ErrInvalidConfig},
		{`"eos_token_id": -5`, "eos_token_id", ErrInvalidConfig},
		{`"hidden_act": "gelu"`, "hidden_act", ErrUnsupported},
		{`"rope_scaling": {"rope_type": "longrope", "factor": 2}`, "longrope", ErrUnsupported},
		{`"rope_scaling": {"rope_type": "linear", "factor": 2, "short_factor": [1]}`, "short_factor", ErrUnsupported},
		{`"rope_scaling": {"rope_type": "linear"}`, "factor", ErrInvalidConfig},
		{`"partial_rotary_factor": 0.5`, "partial_rotary_factor", ErrUnsupported},
		{`"rope_interleaved": true`, "rope_interleaved", ErrUnsupported},
		{`"architectures": ["MixtralForCausalLM"]`, "MixtralForCausalLM", ErrUnsupported},
		{`"model_type": "gemma"`, "gemma", ErrUnsupported},
	}
	for _, c := range cases {
		js := "{" + base + ", " + c.extra + "}"
		_, err := ParseConfig([]byte(js), "config.json")
		if err == nil {
			t.Errorf("%s: accepted", c.extra)
			continue
		}
		if !strings.Contains(err.Error(), c.field) || !errors.Is(err, c.want) {
			t.Errorf("%s: error %q does not name %q or wrap %v", c.extra, err, c.field, c.want)
		}
	}
	for _, js := range []string{
		`{"model_type": "qwen2", "vocab_size": 128, "hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2, "use_sliding_window": true}`,
		`{"model_type": "gpt_neox", "vocab_size": 128, "hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 2, "num_attention_heads": 4, "rope_scaling": {"rope_type": "linear", "factor": 2}}`,
	} {
		if _, err := ParseConfig([]byte(js), "config.json"); !errors.Is(err, ErrUnsupported) {
			t.Errorf("%s: error %v, want ErrUnsupported", js, err)
		}
	}
}

// A GPT-NeoX config as transformers 5 writes it (rope_parameters instead of
// rotary_emb_base and rotary_pct) describes the same model.
func TestGPTNeoXRopeParameters(t *testing.T) {
	c, err := ParseConfig([]byte(`{"model_type": "gpt_neox", "vocab_size": 128, "hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 2, "num_attention_heads": 4, "rope_parameters": {"rope_theta": 500.0, "rope_type": "default", "partial_rotary_factor": 1.0}}`), "v5")
	if err != nil {
		t.Fatal(err)
	}
	if c.RotaryPct != 1 || c.RotaryEmbBase != 500 || c.RotaryNDims != 8 {
		t.Errorf("rotary_pct %v, rotary_emb_base %v, rotary dims %d", c.RotaryPct, c.RotaryEmbBase, c.RotaryNDims)
	}
}

// A config that disagrees with the checkpoint's tensors is refused naming
// the field: layer count, and sizes through the tensor they shape.
func TestConfigCheckedAgainstCheckpoint(t *testing.T) {
	src := testutil.Testdata(t, "families", "llama-gqa-tied")
	for _, c := range []struct{ key, value, want string }{
		{"num_hidden_layers", "3", "num_hidden_layers 3"},
		{"num_hidden_layers", "1", "num_hidden_layers 1"},
		{"intermediate_size", "96", "intermediate_size"},
		{"num_key_value_heads", "4", "num_key_value_heads"},
	} {
		dir := t.TempDir()
		var cfg map[string]any
		b, err := os.ReadFile(filepath.Join(src, "config.json"))
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(b, &cfg); err != nil {
			t.Fatal(err)
		}
		var v any
		_ = json.Unmarshal([]byte(c.value), &v)
		cfg[c.key] = v
		b, _ = json.Marshal(cfg)
		if err := os.WriteFile(filepath.Join(dir, "config.json"), b, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(filepath.Join(src, "model.safetensors"), filepath.Join(dir, "model.safetensors")); err != nil {
			t.Fatal(err)
		}
		err = torch.Do(context.Background(), func() error {
			m, err := Load(context.Background(), dir, DefaultLoadOptions())
			if err == nil {
				m.Free()
			}
			return err
		})
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s=%s: error %v, want one naming %q", c.key, c.value, err, c.want)
		}
	}
}
