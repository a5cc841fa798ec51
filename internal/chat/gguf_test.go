package chat

import (
	"testing"

	"github.com/golamini/golamini/internal/gguf"
	"github.com/golamini/golamini/internal/testutil"
)

// TestGGUFTemplateMatchesTransformers: the chat template and special tokens read from the real
// SmolLM2 GGUF's metadata render the smollm2 goldens as transformers does with the tokenizer it
// builds from the same file (the reference script checks that template is smollm2's).
func TestGGUFTemplateMatchesTransformers(t *testing.T) {
	g := loadGoldens(t)
	path := testutil.SmolLM2GGUF(t)
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
