package gguf

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"testing"

	"github.com/golamini/golamini/internal/testutil"
)

// diffJSON reports where two decoded JSON values differ.
func diffJSON(path string, a, b any, out *[]string) {
	if len(*out) > 10 {
		return
	}
	switch x := a.(type) {
	case map[string]any:
		y, ok := b.(map[string]any)
		if !ok {
			*out = append(*out, fmt.Sprintf("%s: %T vs %T", path, a, b))
			return
		}
		keys := map[string]bool{}
		for k := range x {
			keys[k] = true
		}
		for k := range y {
			keys[k] = true
		}
		var ks []string
		for k := range keys {
			ks = append(ks, k)
		}
		sort.Strings(ks)
		for _, k := range ks {
			diffJSON(path+"."+k, x[k], y[k], out)
		}
	case []any:
		y, ok := b.([]any)
		if !ok || len(x) != len(y) {
			*out = append(*out, fmt.Sprintf("%s: %d items vs %v", path, len(x), b))
			return
		}
		for i := range x {
			diffJSON(fmt.Sprintf("%s[%d]", path, i), x[i], y[i], out)
		}
	default:
		if !reflect.DeepEqual(a, b) {
			*out = append(*out, fmt.Sprintf("%s: ours %v, transformers %v", path, a, b))
		}
	}
}

func compareTokenizer(t *testing.T, got *HFTokenizer, want any, wantCfg map[string]any) {
	t.Helper()
	var ours any
	if err := json.Unmarshal(got.JSON, &ours); err != nil {
		t.Fatal(err)
	}
	var diffs []string
	diffJSON("tokenizer", ours, want, &diffs)
	for _, d := range diffs {
		t.Error(d)
	}
	for k, w := range wantCfg {
		if g := got.Config[k]; !reflect.DeepEqual(g, w) {
			t.Errorf("tokenizer_config %s = %#v, transformers %#v", k, g, w)
		}
	}
}

// TestHFTokenizerMatchesTransformers compares our tokenizer.json with
// AutoTokenizer.from_pretrained(dir, gguf_file=...).backend_tokenizer for
// the cases of scripts/reference/gguf_tokenizer_goldens.py.
func TestHFTokenizerMatchesTransformers(t *testing.T) {
	for _, name := range []string{"smollm", "llama3", "qwen2", "spm-merges", "spm-nomerges"} {
		t.Run(name, func(t *testing.T) {
			dir := filepath.Join("..", "..", "testdata", "gguf")
			b, err := os.ReadFile(filepath.Join(dir, "tok-"+name+".json"))
			if err != nil {
				t.Fatal(err)
			}
			var g map[string]any
			if err := json.Unmarshal(b, &g); err != nil {
				t.Fatal(err)
			}
			f, err := Open(filepath.Join(dir, "tok-"+name+".gguf"))
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			tok, err := f.HFTokenizer()
			if err != nil {
				t.Fatal(err)
			}
			cfg := map[string]any{}
			for _, k := range []string{"bos_token", "eos_token", "unk_token", "pad_token", "add_bos_token", "add_eos_token", "chat_template"} {
				if g[k] != nil || k != "chat_template" {
					cfg[k] = g[k]
				}
			}
			compareTokenizer(t, tok, g["tokenizer"], cfg)
		})
	}
}

// TestRealSmolLM2Tokenizer compares the real file's tokenizer with the one
// transformers 5.24 built from it and saved (../shared/data/tokenizers/smollm2).
func TestRealSmolLM2Tokenizer(t *testing.T) {
	path := testutil.SmolLM2GGUF(t)
	shared := os.Getenv("GOLAMINI_SHARED")
	if shared == "" {
		shared = filepath.Join("..", "..", "..", "shared")
	}
	dir := filepath.Join(shared, "data", "tokenizers", "smollm2")
	b, err := os.ReadFile(filepath.Join(dir, "tokenizer.json"))
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal(err)
		}
		t.Skipf("shared data absent: %v", err)
	}
	var want any
	if err := json.Unmarshal(b, &want); err != nil {
		t.Fatal(err)
	}
	tmpl, err := os.ReadFile(filepath.Join(dir, "chat_template.jinja"))
	if err != nil {
		t.Fatal(err)
	}
	f, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	tok, err := f.HFTokenizer()
	if err != nil {
		t.Fatal(err)
	}
	compareTokenizer(t, tok, want, map[string]any{
		"bos_token": "<|im_start|>", "eos_token": "<|im_end|>", "unk_token": "<|endoftext|>", "pad_token": "<|im_end|>",
		"add_bos_token": false, "chat_template": string(tmpl),
	})
}

func TestHFTokenizerConfigJSON(t *testing.T) {
	f, err := Open(filepath.Join("..", "..", "testdata", "gguf", "tok-smollm.gguf"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	tok, err := f.HFTokenizer()
	if err != nil {
		t.Fatal(err)
	}
	b, err := tok.ConfigJSON()
	if err != nil {
		t.Fatal(err)
	}
	var back map[string]any
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if back["eos_token"] != "<|im_end|>" || back["add_bos_token"] != false || back["chat_template"] != tok.Config["chat_template"] {
		t.Errorf("tokenizer_config.json %s", b)
	}
}

func TestHFTokenizerErrors(t *testing.T) {
	f, err := Open(filepath.Join("..", "..", "testdata", "gguf", "small.gguf"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.HFTokenizer(); err == nil {
		t.Error("a file without tokenizer metadata gave a tokenizer")
	}
}
