package runner

import (
	"context"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/golamini/golamini/internal/checkpoint"
	"github.com/golamini/golamini/internal/gguf"
)

// TestNewFromRealGGUF loads the real SmolLM2-135M-Instruct GGUF (fetched by
// scripts/smollm2-gguf; skipped when absent, failed under CI=true) by its
// path and through a directory holding it, and asks it the question whose
// greedy answer transformers gives on the same file.
func TestNewFromRealGGUF(t *testing.T) {
	path := os.Getenv("GOLAMINI_SMOLLM2_GGUF")
	if path == "" {
		cache := os.Getenv("GOLAMINI_CACHE")
		if cache == "" {
			base, _ := os.UserCacheDir()
			cache = filepath.Join(base, "golamini")
		}
		path = filepath.Join(cache, "SmolLM2-135M-Instruct.Q4_1.gguf")
	}
	if _, err := os.Stat(path); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal(err)
		}
		t.Skipf("the real SmolLM2 GGUF is absent (scripts/smollm2-gguf fetches it): %v", err)
	}
	t.Setenv("GOLAMINI_CACHE", t.TempDir())
	dir := t.TempDir()
	if err := os.Symlink(path, filepath.Join(dir, "smollm2.gguf")); err != nil {
		t.Fatal(err)
	}
	for _, src := range []string{path, dir} {
		r, err := New(src)
		if err != nil {
			t.Fatal(err)
		}
		if r.model.Config.ModelType != "llama" || r.model.Config.NumHiddenLayers != 30 {
			t.Errorf("%s: config %+v", src, r.model.Config)
		}
		// SmolLM2's chat format, rendered by hand (the chat template engine is another package's).
		prompt := "<|im_start|>user\nWhat is the capital of France?<|im_end|>\n<|im_start|>assistant\n"
		answer, err := r.Infer(prompt)
		r.Close()
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(strings.TrimSpace(answer), "The capital of France is Paris.") {
			t.Errorf("%s: answer %q", src, answer)
		}
	}
}

// TestExportGGUF exports a tiny Llama loaded from safetensors and reads the
// file back: with f32 every tensor equals the source's, and the tokenizer
// and chat template travel along.
func TestExportGGUF(t *testing.T) {
	src := filepath.Join("..", "testdata", "gguf", "export-llama")
	r, err := New(src)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	out := filepath.Join(t.TempDir(), "tiny.gguf")
	if err := r.ExportGGUF(context.Background(), out, GGUFOptions{OutType: "f32"}); err != nil {
		t.Fatal(err)
	}
	f, err := gguf.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	m, err := gguf.NewHFModel(f)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	ck, err := checkpoint.Open(src)
	if err != nil {
		t.Fatal(err)
	}
	defer ck.Close()
	for _, ti := range ck.Tensors() {
		want, _ := ck.ReadFloat32(ti.Name)
		got, err := m.ReadFloat32(ti.Name)
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Errorf("%s: exported values differ (%v)", ti.Name, err)
		}
	}
	tok, err := f.HFTokenizer()
	if err != nil {
		t.Fatal(err)
	}
	if tok.Config["chat_template"] == nil || tok.Config["eos_token"] != "<|im_end|>" {
		t.Errorf("tokenizer config %v", tok.Config)
	}
	if err := r.ExportGGUF(context.Background(), out, GGUFOptions{OutType: "q4_k"}); err == nil {
		t.Error("out type q4_k accepted")
	}
}
