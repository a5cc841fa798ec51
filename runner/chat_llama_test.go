package runner

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/golamini/golamini/internal/data"
	"github.com/golamini/golamini/internal/testutil"
)

// TestChatOnLlama: a tiny Llama (testdata/gguf/export-llama: SmolLM2's architecture and special
// tokens, pad = eos = <|im_end|>) with SmolLM2's real chat template. Chat continues the rendered
// prompt encoded without added special tokens; pairs trained with ChatTemplate learn the answer
// and the <|im_end|> after it, which keeps its label in a padded batch although it is the pad id.
func TestChatOnLlama(t *testing.T) {
	src := testutil.Testdata(t, "gguf", "export-llama")
	tmpl, err := os.ReadFile(testutil.Shared(t, "data", "tokenizers", "smollm2", "chat_template.jinja"))
	if err != nil {
		t.Fatal(err)
	}
	files := map[string]string{"chat_template.jinja": string(tmpl)}
	for _, f := range []string{"config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json"} {
		b, err := os.ReadFile(filepath.Join(src, f))
		if err != nil {
			t.Fatal(err)
		}
		files[f] = string(b)
	}
	dir := t.TempDir()
	for name, body := range files {
		os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644)
	}
	r, err := New(dir, WithDevice("cpu"))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	ctx := context.Background()
	msgs := []Message{{Role: "user", Content: "Hi"}}
	o := DefaultChatOptions()
	o.MaxNewTokens = 6
	prompt, err := r.ChatPrompt(msgs, o)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(prompt, "<|im_start|>system\nYou are a helpful AI assistant named SmolLM") || !strings.HasSuffix(prompt, "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n") {
		t.Fatalf("prompt %q", prompt)
	}
	ids := r.Tokenizer().Encode(prompt)
	starts := 0
	for _, id := range ids {
		if id == 1 {
			starts++
		}
	}
	if ids[0] != 1 || ids[1] == 1 || starts != 3 { // each <|im_start|> written by the template, nothing added
		t.Fatalf("prompt ids %v", ids)
	}
	gens, err := r.generateIDs(ctx, [][]int{ids}, o.GenerateOptions, nil)
	if err != nil {
		t.Fatal(err)
	}
	reply, err := r.Chat(ctx, msgs, o)
	want := r.Tokenizer().DecodeTransformers(gens[0].NewIDs, true)
	if err != nil || reply != want {
		t.Errorf("Chat %q %v, want %q", reply, err, want)
	}

	if err := r.LoadData([]map[string]any{{"input": "What is golamini?", "output": "A Go SDK."}, {"input": "Hi", "output": "Hello there, how can I help you today? Ask me anything about fine-tuning models in Go."}}, "", ""); err != nil {
		t.Fatal(err)
	}
	do := DefaultDataOptions()
	do.EvalFraction, do.ChatTemplate = 0, true
	rows, _, err := r.tokenizedSplit(do)
	if err != nil {
		t.Fatal(err)
	}
	pad := r.padID()
	if eot, _ := r.Tokenizer().TokenToID("<|im_end|>"); pad != eot {
		t.Fatalf("pad %d is not <|im_end|> %d", pad, eot)
	}
	b := data.Collate(rows, pad, 0)
	for i, want := range []string{"A Go SDK.<|im_end|>", "Hello there, how can I help you today? Ask me anything about fine-tuning models in Go.<|im_end|>"} {
		var learned []int
		for _, l := range b.Labels[i] {
			if l != data.IgnoreIndex {
				learned = append(learned, l)
			}
		}
		if got := r.Tokenizer().Decode(learned, false); got != want {
			t.Errorf("row %d learns %q, want %q", i, got, want)
		}
	}
	short := 0
	if len(rows[1].InputIDs) < len(rows[0].InputIDs) {
		short = 1
	}
	n := len(rows[short].InputIDs)
	// The row ends "<|im_end|>\n": the <|im_end|> is learned, the newline after it is not.
	if n >= b.Width() || b.Labels[short][n-2] != pad || b.Labels[short][n-1] != data.IgnoreIndex {
		t.Fatalf("row %d: %d tokens, width %d, last labels %v", short, n, b.Width(), b.Labels[short][n-2:n])
	}
	for j := n; j < b.Width(); j++ { // the padding, also <|im_end|>, is not
		if b.InputIDs[short][j] != pad || b.Labels[short][j] != data.IgnoreIndex || b.Mask[short][j] != 0 {
			t.Errorf("padding at %d: id %d label %d mask %d", j, b.InputIDs[short][j], b.Labels[short][j], b.Mask[short][j])
		}
	}
}
