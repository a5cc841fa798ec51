package runner

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/golamini/golamini/internal/checkpoint"
	"github.com/golamini/golamini/internal/gguf"
	"github.com/golamini/golamini/internal/testutil"
)

// TestNewFromRealGGUF loads the real SmolLM2-135M-Instruct GGUF (fetched by
// scripts/smollm2-gguf; skipped when absent, failed under CI=true) by its
// path and through a directory holding it, and asks it the question whose
// greedy answer transformers gives on the same file.
func TestNewFromRealGGUF(t *testing.T) {
	path := testutil.SmolLM2GGUF(t)
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

// TestChatFromRealGGUF: a runner loaded from the real SmolLM2 GGUF takes its
// chat template and end-of-turn token from the file's metadata
// (tokenizer.chat_template, tokenizer.ggml.eos_token_id): ChatPrompt renders
// and encodes the smollm2 goldens (testdata/chat/goldens.json, made by
// scripts/reference/chat_goldens.py with transformers' apply_chat_template;
// the script checks that transformers' GGUF tokenizer carries the same
// template), and Chat answers the question whose greedy answer transformers
// gives on the same file, stopping at <|im_end|>.
func TestChatFromRealGGUF(t *testing.T) {
	path := testutil.SmolLM2GGUF(t)
	t.Setenv("GOLAMINI_CACHE", t.TempDir())
	r, err := New(path)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()

	b, err := os.ReadFile(filepath.Join("..", "testdata", "chat", "goldens.json"))
	if err != nil {
		t.Fatal(err)
	}
	var g struct {
		GGUF *struct {
			SameTemplateAs string `json:"same_template_as"`
		} `json:"gguf"`
		Cases []struct {
			Template            string                     `json:"template"`
			Name                string                     `json:"name"`
			Messages            []Message                  `json:"messages"`
			AddGenerationPrompt bool                       `json:"add_generation_prompt"`
			Vars                map[string]json.RawMessage `json:"vars"`
			Text                string                     `json:"text"`
			IDs                 []int                      `json:"ids"`
		} `json:"cases"`
	}
	if err := json.Unmarshal(b, &g); err != nil {
		t.Fatal(err)
	}
	if g.GGUF == nil || g.GGUF.SameTemplateAs == "" {
		t.Fatal("testdata/chat/goldens.json has no entry for the GGUF's template")
	}
	n := 0
	for _, c := range g.Cases {
		// ChatPrompt always asks for the generation prompt.
		if c.Template != g.GGUF.SameTemplateAs || !c.AddGenerationPrompt {
			continue
		}
		o := DefaultChatOptions()
		if len(c.Vars) > 0 {
			o.Vars = map[string]any{}
			for k, raw := range c.Vars {
				var v any
				if err := json.Unmarshal(raw, &v); err != nil {
					t.Fatal(err)
				}
				o.Vars[k] = v
			}
		}
		text, err := r.ChatPrompt(c.Messages, o)
		if err != nil {
			t.Errorf("%s: %v", c.Name, err)
			continue
		}
		if text != c.Text {
			t.Errorf("%s: rendered\n%q\nwant (apply_chat_template)\n%q", c.Name, text, c.Text)
		}
		if ids := r.tok.Encode(text); !reflect.DeepEqual(ids, c.IDs) {
			t.Errorf("%s: ids %v, want %v", c.Name, ids, c.IDs)
		}
		n++
	}
	if n < 5 {
		t.Errorf("only %d golden cases checked", n)
	}

	stops, err := r.EndOfTurnIDs()
	if err != nil {
		t.Fatal(err)
	}
	if imEnd := r.tok.Encode("<|im_end|>"); len(imEnd) != 1 || !slices.Contains(stops, imEnd[0]) {
		t.Errorf("end-of-turn ids %v lack <|im_end|> %v", stops, imEnd)
	}
	o := DefaultChatOptions()
	o.MaxNewTokens = 20
	answer, err := r.Chat(context.Background(), []Message{{Role: "user", Content: "What is the capital of France?"}}, o)
	if err != nil {
		t.Fatal(err)
	}
	if answer != "The capital of France is Paris." {
		t.Errorf("Chat answered %q, transformers (greedy, same file) gives %q", answer, "The capital of France is Paris.")
	}
}

// The GGUF's model folder in the cache is keyed by gguf.HFDirLayout: a
// folder written under another layout (a stale config.json here) is not
// reused; the same layout reuses its own.
func TestGGUFModelDirLayoutKey(t *testing.T) {
	path := testutil.SmolLM2GGUF(t)
	t.Setenv("GOLAMINI_CACHE", t.TempDir())
	defer func(v int) { ggufDirLayout = v }(ggufDirLayout)
	ggufDirLayout = gguf.HFDirLayout - 1
	old, err := GGUFModelDir(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(old, "config.json"), []byte(`{"model_type": "stale"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	ggufDirLayout = gguf.HFDirLayout
	dir, err := GGUFModelDir(path)
	if err != nil {
		t.Fatal(err)
	}
	if dir == old {
		t.Fatalf("layout %d reuses layout %d's folder %s", gguf.HFDirLayout, gguf.HFDirLayout-1, dir)
	}
	b, err := os.ReadFile(filepath.Join(dir, "config.json"))
	if err != nil || !strings.Contains(string(b), `"llama"`) {
		t.Errorf("config.json: %v: %.80s", err, b)
	}
	if again, err := GGUFModelDir(path); err != nil || again != dir {
		t.Errorf("the same layout: %s, %v; want %s", again, err, dir)
	}
}
