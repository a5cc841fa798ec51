package gguf

import (
	"context"
	"encoding/json"
	"errors"
	"math"
	"os"
	"path/filepath"
	"testing"
)

// exportWithRope copies the tiny Llama directory with rope_parameters
// replaced and exports it as F32.
func exportWithRope(t *testing.T, rope map[string]any) (string, error) {
	t.Helper()
	dir := t.TempDir()
	for _, name := range []string{"config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json", "chat_template.jinja"} {
		b, err := os.ReadFile(filepath.Join(exportDir, name))
		if err != nil {
			t.Fatal(err)
		}
		if name == "config.json" {
			var cfg map[string]any
			if err := json.Unmarshal(b, &cfg); err != nil {
				t.Fatal(err)
			}
			cfg["rope_parameters"] = rope
			if b, err = json.Marshal(cfg); err != nil {
				t.Fatal(err)
			}
		}
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	out := filepath.Join(t.TempDir(), "m.gguf")
	opts := DefaultExportOptions()
	opts.OutType = TypeF32
	return out, ExportDir(context.Background(), dir, out, opts)
}

// TestExportRopeScaling checks the RoPE metadata llama.cpp needs, as
// convert_hf_to_gguf.py writes it: the head size from head_dim, Llama 3's
// scaling as a rope_freqs.weight tensor (without it llama.cpp computes plain
// RoPE and every logit differs), linear and YaRN scaling as
// llama.rope.scaling.* keys, and an error for a type it cannot express.
func TestExportRopeScaling(t *testing.T) {
	out, err := exportWithRope(t, map[string]any{"rope_type": "llama3", "rope_theta": 500000.0, "factor": 8.0,
		"low_freq_factor": 1.0, "high_freq_factor": 4.0, "original_max_position_embeddings": 8192.0})
	if err != nil {
		t.Fatal(err)
	}
	f, err := Open(out)
	if err != nil {
		t.Fatal(err)
	}
	for key, want := range map[string]uint32{"llama.attention.key_length": 8, "llama.attention.value_length": 8, "llama.rope.dimension_count": 8} {
		v, ok := f.Get(key)
		if got, _ := v.Any().(uint32); !ok || got != want {
			t.Errorf("%s = %v, want %d", key, v.Any(), want)
		}
	}
	got, err := f.ReadFloat32("rope_freqs.weight")
	if err != nil {
		t.Fatal(err)
	}
	// head_dim 8 and theta 500000: inverse frequencies 500000^(-i/8) for
	// i = 0, 2, 4, 6 have wavelengths 2π, 167, 4443 and 118 000 positions.
	// Below 8192/4 = 2048 the divisor is 1, above 8192/1 it is the factor 8,
	// between them 1 / ((1-s)/8 + s) with s = (8192/wavelength - 1) / (4 - 1).
	wave := 2 * math.Pi * math.Sqrt(500000)
	s := (8192/wave - 1) / 3
	want := []float64{1, 1, 1 / ((1-s)/8 + s), 8}
	if len(got) != len(want) {
		t.Fatalf("rope_freqs.weight has %d values, want %d", len(got), len(want))
	}
	for i := range want {
		if math.Abs(float64(got[i])-want[i]) > 1e-4*want[i] {
			t.Errorf("rope_freqs.weight[%d] = %v, want %v", i, got[i], want[i])
		}
	}
	// Read back, the tensor becomes llama3 rope_parameters that give the
	// same divisors (head_dim 8 blends one frequency only, so other bounds
	// than the original's fit it too), and the weights load.
	cfg, err := f.HFConfig()
	if err != nil {
		t.Fatal(err)
	}
	rp, _ := cfg["rope_parameters"].(map[string]any)
	if rp["rope_type"] != "llama3" || rp["factor"] != 8.0 || rp["low_freq_factor"] != 1.0 {
		t.Fatalf("rope_parameters read back: %v", rp)
	}
	again := llama3Freqs(500000, 8, rp["factor"].(float64), 1, rp["high_freq_factor"].(float64), float64(rp["original_max_position_embeddings"].(int64)))
	for i := range got {
		if math.Abs(float64(again[i]-got[i])) > 1e-6*float64(got[i]) {
			t.Errorf("divisor %d: %v from the parameters read back (%v), %v in the file", i, again[i], rp, got[i])
		}
	}
	m, err := NewHFModel(f)
	if err != nil {
		t.Fatal(err)
	}
	m.Close()

	out, err = exportWithRope(t, map[string]any{"rope_type": "linear", "rope_theta": 10000.0, "factor": 2.0})
	if err != nil {
		t.Fatal(err)
	}
	f, err = Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	typ, _ := f.Get("llama.rope.scaling.type")
	factor, _ := f.Get("llama.rope.scaling.factor")
	if s, _ := typ.String(); s != "linear" || factor.Any() != float32(2) {
		t.Errorf("linear scaling written as type %v factor %v", typ.Any(), factor.Any())
	}
	if _, ok := f.Tensor("rope_freqs.weight"); ok {
		t.Error("rope_freqs.weight written for linear scaling")
	}

	out, err = exportWithRope(t, map[string]any{"rope_type": "longrope", "rope_theta": 10000.0, "factor": 2.0})
	if !errors.Is(err, ErrUnsupported) {
		t.Errorf("longrope: error %v, want ErrUnsupported", err)
	}
	if _, statErr := os.Stat(out); statErr == nil {
		t.Error("a file was written for an unsupported rope type")
	}
}

// Llama 3.1's and 3.2's real shapes (head size 64 or 128, theta 500000)
// blend several frequencies: their rope_freqs.weight gives back exactly the
// config's parameters. Divisors no llama3 parameters produce are refused.
func TestLlama3FromFreqs(t *testing.T) {
	for _, c := range []struct {
		headDim int
		factor  float64
	}{{128, 8}, {64, 32}, {128, 32}} {
		freqs := llama3Freqs(500000, c.headDim, c.factor, 1, 4, 8192)
		rp, err := llama3FromFreqs(freqs, 500000, c.headDim)
		if err != nil {
			t.Fatal(err)
		}
		want := map[string]any{"rope_type": "llama3", "rope_theta": 500000.0, "factor": c.factor, "low_freq_factor": 1.0,
			"high_freq_factor": 4.0, "original_max_position_embeddings": int64(8192)}
		for k, v := range want {
			if rp[k] != v {
				t.Errorf("head %d factor %g: %s = %v, want %v", c.headDim, c.factor, k, rp[k], v)
			}
		}
	}
	if rp, err := llama3FromFreqs([]float32{1, 1, 1, 1}, 10000, 8); rp != nil || err != nil {
		t.Errorf("all ones: %v, %v; want no scaling", rp, err)
	}
	bad := llama3Freqs(500000, 128, 8, 1, 4, 8192)
	bad[40] *= 1.01
	if _, err := llama3FromFreqs(bad, 500000, 128); err == nil {
		t.Error("a perturbed divisor was taken for llama3 scaling")
	}
	if _, err := llama3FromFreqs([]float32{1, 0.5, 2, 2}, 500000, 8); err == nil {
		t.Error("a divisor below 1 was accepted")
	}
	if _, err := llama3FromFreqs([]float32{1, 2}, 500000, 8); err == nil {
		t.Error("a tensor of the wrong length was accepted")
	}
}
