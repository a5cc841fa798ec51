package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/golamini/golamini/runner"
)

// demoChatDir is the project's demo model with a chat template beside it.
func demoChatDir(t *testing.T) string {
	t.Helper()
	src := filepath.Join(filepath.Dir(projectTokenizerDir(t)), "models", "demo")
	dir := t.TempDir()
	entries, err := os.ReadDir(src)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(src, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		os.WriteFile(filepath.Join(dir, e.Name()), b, 0o644)
	}
	tmpl := "{% for m in messages %}{{ m.role }}: {{ m.content }}{{ eos_token }}\n{% endfor %}{% if add_generation_prompt %}assistant:{% endif %}"
	os.WriteFile(filepath.Join(dir, "chat_template.jinja"), []byte(tmpl), 0o644)
	return dir
}

func chatRun(t *testing.T, stdin string, args ...string) (string, string, int) {
	t.Helper()
	var out, errb bytes.Buffer
	code := runMain(context.Background(), append([]string{"chat", "--device", "cpu", "--quiet"}, args...), strings.NewReader(stdin), &out, &errb)
	return out.String(), errb.String(), code
}

// TestChatCLI: `chat --json` answers each line as runner.Chat does; the interactive mode keeps the
// conversation (the second reply is Chat on both turns); a model without a template is a clear error.
func TestChatCLI(t *testing.T) {
	dir := demoChatDir(t)
	r, err := runner.New(dir, runner.WithDevice("cpu"))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	o := runner.DefaultChatOptions()
	o.MaxNewTokens = 8
	m1 := []runner.Message{{Role: "user", Content: "How do I train?"}}
	want1, err := r.Chat(context.Background(), m1, o)
	if err != nil {
		t.Fatal(err)
	}
	out, errs, code := chatRun(t, `{"messages": [{"role": "user", "content": "How do I train?"}]}`+"\n", "--model", dir, "--json", "--max-new-tokens", "8")
	var got struct {
		Text string `json:"text"`
	}
	if code != 0 || json.Unmarshal([]byte(out), &got) != nil || got.Text != want1 {
		t.Fatalf("--json: exit %d %q %s; want %q", code, out, errs, want1)
	}

	m2 := append(m1, runner.Message{Role: "assistant", Content: want1}, runner.Message{Role: "user", Content: "And then?"})
	want2, err := r.Chat(context.Background(), m2, o)
	if err != nil {
		t.Fatal(err)
	}
	out, errs, code = chatRun(t, "How do I train?\n\nAnd then?\n", "--model", dir, "--max-new-tokens", "8")
	if code != 0 || out != want1+"\n"+want2+"\n" {
		t.Errorf("interactive: exit %d %q %s; want %q", code, out, errs, want1+"\n"+want2+"\n")
	}

	_, errs, code = chatRun(t, "hi\n", "--model", filepath.Join(filepath.Dir(projectTokenizerDir(t)), "models", "demo"))
	if code != 1 || !strings.Contains(errs, "no chat template") {
		t.Errorf("no template: exit %d %s", code, errs)
	}
}

// TestTrainChatCLI: `train --chat` trains on conversations and `--chat-template` on pairs in the
// model's chat format; mixing the two flags is a usage error.
func TestTrainChatCLI(t *testing.T) {
	dir := demoChatDir(t)
	convs := filepath.Join(t.TempDir(), "chat.jsonl")
	os.WriteFile(convs, []byte(`{"messages": [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello."}]}`+"\n"+
		`{"messages": [{"role": "user", "content": "How?"}, {"role": "assistant", "content": "Like this."}]}`+"\n"), 0o644)
	pairs := filepath.Join(filepath.Dir(projectTokenizerDir(t)), "sdk_qa.jsonl")
	for _, args := range [][]string{
		{"--data", convs, "--chat", "--eval-fraction", "0"},
		{"--data", pairs, "--input-key", "question", "--output-key", "answer", "--chat-template", "--max-length", "64"},
	} {
		out := t.TempDir()
		var so, se bytes.Buffer
		code := runMain(context.Background(), append([]string{"train", "--model", dir, "--output-dir", out, "--max-steps", "1",
			"--per-device-train-batch-size", "2", "--save-strategy", "no", "--quiet"}, args...), strings.NewReader(""), &so, &se)
		if code != 0 || !strings.Contains(so.String(), "trained 1 steps") {
			t.Errorf("%v: exit %d %q %s", args, code, so.String(), se.String())
		}
	}
	var so, se bytes.Buffer
	if code := runMain(context.Background(), []string{"train", "--model", dir, "--data", convs, "--chat", "--chat-template"}, strings.NewReader(""), &so, &se); code != 2 {
		t.Errorf("--chat with --chat-template: exit %d %s", code, se.String())
	}
}
