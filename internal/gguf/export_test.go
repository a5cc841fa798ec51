package gguf

import (
	"bytes"
	"context"
	"encoding/json"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/golamini/golamini/internal/checkpoint"
)

var exportDir = filepath.Join("..", "..", "testdata", "gguf", "export-llama")

// TestExportReadBack exports the tiny HF Llama directory in every out type
// and reads the file back: the HF view of the GGUF must give the original
// tensors rounded to the out type (exactly for F32), and the metadata and
// tokenizer what the directory says.
func TestExportReadBack(t *testing.T) {
	ck, err := checkpoint.Open(exportDir)
	if err != nil {
		t.Fatal(err)
	}
	defer ck.Close()
	for name, typ := range OutTypes {
		t.Run(name, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "m.gguf")
			opts := DefaultExportOptions()
			opts.OutType = typ
			if err := ExportDir(context.Background(), exportDir, out, opts); err != nil {
				t.Fatal(err)
			}
			f, err := Open(out)
			if err != nil {
				t.Fatal(err)
			}
			m, err := NewHFModel(f)
			if err != nil {
				t.Fatal(err)
			}
			defer m.Close()
			for k, want := range map[string]any{"hidden_size": int64(32), "num_key_value_heads": int64(2), "head_dim": int64(8),
				"vocab_size": int64(292), "tie_word_embeddings": false, "bos_token_id": int64(1), "eos_token_id": int64(2)} {
				if got := m.Config[k]; !reflect.DeepEqual(got, want) {
					t.Errorf("config %s = %#v, want %#v", k, got, want)
				}
			}
			names := map[string]bool{}
			for _, ti := range m.Tensors() {
				names[ti.Name] = true
				orig, err := ck.ReadFloat32(ti.Name)
				if err != nil {
					t.Fatal(err)
				}
				got, err := m.ReadFloat32(ti.Name)
				if err != nil {
					t.Fatal(err)
				}
				g, _ := m.GGUFName(ti.Name)
				info, _ := f.Tensor(g)
				wantType := typ
				if len(info.Dims) == 1 {
					wantType = TypeF32
				}
				if info.Type != wantType {
					t.Errorf("%s stored as %v, want %v", g, info.Type, wantType)
				}
				// The original rounded the same way: quantize, then dequantize.
				q, _ := Quantize(wantType, orig)
				rounded := make([]float32, len(orig))
				Dequantize(wantType, q, rounded)
				if !reflect.DeepEqual(got, rounded) {
					t.Errorf("%s: values are not the original rounded to %v", ti.Name, wantType)
				}
			}
			for _, ti := range ck.Tensors() {
				if !names[ti.Name] {
					t.Errorf("%s was not exported", ti.Name)
				}
			}
			tok, err := f.HFTokenizer()
			if err != nil {
				t.Fatal(err)
			}
			if tok.Config["eos_token"] != "<|im_end|>" || tok.Config["chat_template"] == nil {
				t.Errorf("tokenizer config %v", tok.Config)
			}
			pre, _ := f.Get("tokenizer.ggml.pre")
			if s, _ := pre.String(); s != "gpt-2" {
				t.Errorf("tokenizer.ggml.pre %q", s)
			}
		})
	}
}

// TestExportLoadsInTransformers loads exported files with transformers'
// GGUF loader: logits within the rounding of the out type of the HF
// directory's, the same tokenization and chat template. It needs torch and
// transformers 5 (the venv of scripts/reference/requirements-v5.txt, which
// make test does not install), so it runs only with $GOLAMINI_REF5_PYTHON
// set to that venv's python.
func TestExportLoadsInTransformers(t *testing.T) {
	py := os.Getenv("GOLAMINI_REF5_PYTHON")
	if py == "" {
		t.Skip("set GOLAMINI_REF5_PYTHON to the transformers-5 reference venv's python to load exports in transformers")
	}
	if out, err := exec.Command(py, "-c", "import transformers, torch, gguf").CombinedOutput(); err != nil {
		t.Fatalf("%s cannot import transformers, torch and gguf: %v: %s", py, err, out)
	}
	tol := map[TensorType]float64{TypeF32: 1e-5, TypeF16: 2e-3, TypeBF16: 2e-2, TypeQ8_0: 2e-2}
	names := []string{"f32", "f16", "bf16", "q8_0"}
	dir := t.TempDir()
	args := []string{filepath.Join("scripts", "reference", "gguf_export_goldens.py"), "--check", filepath.Join("testdata", "gguf", "export-llama")}
	for _, name := range names {
		out, _ := filepath.Abs(filepath.Join(dir, name+".gguf"))
		opts := DefaultExportOptions()
		opts.OutType = OutTypes[name]
		if err := ExportDir(context.Background(), exportDir, out, opts); err != nil {
			t.Fatal(err)
		}
		args = append(args, out)
	}
	// One Python process for all four files: loading torch dominates.
	cmd := exec.Command(py, args...)
	cmd.Dir = filepath.Join("..", "..")
	b, err := cmd.Output()
	if err != nil {
		t.Fatalf("transformers could not load the exports: %v", err)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	for _, name := range names {
		var r struct {
			MaxLogitDiff      float64           `json:"max_logit_diff"`
			TokenizerEqual    bool              `json:"tokenizer_equal"`
			ChatTemplateEqual bool              `json:"chat_template_equal"`
			TensorTypes       map[string]string `json:"tensor_types"`
		}
		if err := dec.Decode(&r); err != nil {
			t.Fatalf("%s: %v: %s", name, err, b)
		}
		typ := OutTypes[name]
		if math.IsNaN(r.MaxLogitDiff) || r.MaxLogitDiff > tol[typ] {
			t.Errorf("%s: max |logit diff| %g > %g", name, r.MaxLogitDiff, tol[typ])
		} else {
			t.Logf("%s: max |logit diff| %.2g", name, r.MaxLogitDiff)
		}
		if !r.TokenizerEqual || !r.ChatTemplateEqual {
			t.Errorf("%s: tokenizer equal %v, chat template equal %v", name, r.TokenizerEqual, r.ChatTemplateEqual)
		}
		if r.TensorTypes["blk.0.attn_q.weight"] != typ.String() || r.TensorTypes["blk.0.attn_norm.weight"] != "F32" {
			t.Errorf("%s: gguf package reads tensor types %v", name, r.TensorTypes)
		}
	}
}
