package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/golamini/golamini/internal/testutil"
)

// TestTokenizeChatMatchesTransformers: `golamini tokenize --model DIR --chat` gives, for the real
// Qwen2.5 and SmolLM2 tokenizers, the text and ids of transformers' apply_chat_template
// (testdata/chat/goldens.json, scripts/reference/chat_goldens.py).
func TestTokenizeChatMatchesTransformers(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(filepath.Dir(projectTokenizerDir(t)), "chat", "goldens.json"))
	if err != nil {
		t.Fatal(err)
	}
	var g struct {
		Cases []map[string]json.RawMessage `json:"cases"`
	}
	if err := json.Unmarshal(b, &g); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"qwen2.5", "smollm2"} {
		dir := testutil.Shared(t, "data", "tokenizers", name)
		var stdin bytes.Buffer
		var want []map[string]json.RawMessage
		for _, c := range g.Cases {
			if string(c["template"]) != `"`+name+`"` {
				continue
			}
			// The contract's line: messages, add_generation_prompt, tools, and other keys as variables.
			line := map[string]json.RawMessage{"messages": c["messages"], "add_generation_prompt": c["add_generation_prompt"]}
			if c["tools"] != nil {
				line["tools"] = c["tools"]
			}
			if c["vars"] != nil {
				var vars map[string]json.RawMessage
				if err := json.Unmarshal(c["vars"], &vars); err != nil {
					t.Fatal(err)
				}
				for k, v := range vars {
					line[k] = v
				}
			}
			lb, _ := json.Marshal(line)
			stdin.Write(append(lb, '\n'))
			want = append(want, c)
		}
		out, errs, code := tokenizeRun(t, &stdin, "--model", dir, "--chat")
		if code != 0 {
			t.Fatalf("%s: exit %d: %s", name, code, errs)
		}
		lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
		if len(lines) != len(want) {
			t.Fatalf("%s: %d lines for %d inputs", name, len(lines), len(want))
		}
		for i, l := range lines {
			var got struct {
				Text string `json:"text"`
				IDs  []int  `json:"ids"`
			}
			if err := json.Unmarshal([]byte(l), &got); err != nil {
				t.Fatalf("%s line %d: %v: %s", name, i+1, err, l)
			}
			var text string
			var ids []int
			json.Unmarshal(want[i]["text"], &text)
			json.Unmarshal(want[i]["ids"], &ids)
			if got.Text != text {
				t.Errorf("%s %s: text\n got %q\nwant %q", name, want[i]["name"], got.Text, text)
			}
			if !slices.Equal(got.IDs, ids) {
				t.Errorf("%s %s: ids\n got %v\nwant %v", name, want[i]["name"], got.IDs, ids)
			}
		}
	}
}

func TestTokenizeChatErrors(t *testing.T) {
	dir := projectTokenizerDir(t) // the project's test tokenizer has no chat template
	_, errs, code := tokenizeRun(t, strings.NewReader(`{"messages": [{"role": "user", "content": "hi"}]}`+"\n"), "--model", dir, "--chat")
	if code == 0 || !strings.Contains(errs, "no chat template") {
		t.Errorf("no template: exit %d: %s", code, errs)
	}
	tmp := t.TempDir()
	for _, f := range []string{"tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"} {
		b, err := os.ReadFile(filepath.Join(dir, f))
		if err != nil {
			t.Fatal(err)
		}
		os.WriteFile(filepath.Join(tmp, f), b, 0o644)
	}
	os.WriteFile(filepath.Join(tmp, "chat_template.jinja"), []byte("{% for m in messages %}{{ m.role }}: {{ m.content }}\n{% endfor %}"), 0o644)
	out, errs, code := tokenizeRun(t, strings.NewReader("{\"messages\": [{\"role\": \"user\", \"content\": \"hi\"}]}\n{\"text\": \"x\"}\n"), "--model", tmp, "--chat")
	if code == 0 || !strings.Contains(errs, "line 2") || !strings.Contains(errs, `"messages"`) || !strings.HasPrefix(out, `{"text":"user: hi\n","ids":[`) {
		t.Errorf("missing messages: exit %d: %q %s", code, out, errs)
	}
	if _, errs, code := tokenizeRun(t, strings.NewReader(""), "--tokenizer", filepath.Join(dir, "tokenizer.json"), "--chat"); code == 0 || !strings.Contains(errs, "--chat needs --model") {
		t.Errorf("--chat without --model: exit %d: %s", code, errs)
	}
}
