package serve

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/golamini/golamini/internal/constrain"
	"github.com/golamini/golamini/internal/testutil"
)

// openaiPython finds a Python with the openai package: $GOLAMINI_PYTHON,
// else the light venv `make test` installs. Without one the test skips,
// except in CI (CI=true), where it fails.
func openaiPython(t *testing.T) string {
	t.Helper()
	skip := func(format string, a ...any) {
		t.Helper()
		if os.Getenv("CI") == "true" {
			t.Fatalf(format, a...)
		}
		t.Skipf(format, a...)
	}
	py := os.Getenv("GOLAMINI_PYTHON")
	if py == "" {
		root := os.Getenv("GOLAMINI_CACHE")
		if root == "" {
			base := os.Getenv("XDG_CACHE_HOME")
			if base == "" {
				home, _ := os.UserHomeDir()
				base = filepath.Join(home, ".cache")
			}
			root = filepath.Join(base, "golamini")
		}
		if _, err := os.Stat(filepath.Join(root, "venv-light", ".complete")); err == nil {
			py = filepath.Join(root, "venv-light", "bin", "python")
		}
	}
	if py == "" {
		skip("no Python with the openai package: run `make test-python-env` or set GOLAMINI_PYTHON")
	}
	if out, err := exec.Command(py, "-c", "import openai").CombinedOutput(); err != nil {
		skip("%s cannot import openai (%v): %s (run `make test-python-env`)", py, err, out)
	}
	return py
}

// TestOpenAIClient drives the server with the official openai Python
// client: greedy completions and chat, plain and streamed, equal
// generation alone; JSON-schema responses parse and validate; 16
// concurrent streams complete; errors come back as the client expects.
func TestOpenAIClient(t *testing.T) {
	py := openaiPython(t)
	d := loadDemo(t)
	o := DefaultOptions()
	o.ModelID, o.APIKey, o.ChatTemplate = "demo", "test-key", plainTemplate{}
	s := New(d.do, d.tok, d.m.Config, o)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- s.ServeListener(ctx, ln) }()
	defer func() { cancel(); <-errc }()

	const maxTokens = 20
	prompts := []string{"How do I add data to Lamini?", "Lamini is"}
	chats := [][]ChatMessage{
		{{Role: "user", Content: "What is golamini?"}},
		{{Role: "system", Content: "Be brief."}, {Role: "user", Content: "Hi"}, {Role: "assistant", Content: "Hello"}, {Role: "user", Content: "Train?"}},
	}
	var schemas []json.RawMessage
	var jsonMax []int
	for _, sch := range jsonSchemas {
		schemas = append(schemas, json.RawMessage(sch))
		g, err := constrain.CompileSchema([]byte(sch))
		if err != nil {
			t.Fatal(err)
		}
		jsonMax = append(jsonMax, g.Start().MinClose())
	}
	cases, _ := json.Marshal(map[string]any{"prompts": prompts, "chat": chats, "max_tokens": maxTokens,
		"schemas": schemas, "json_max_tokens": jsonMax, "concurrent": testPrompts})
	cctx, ccancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer ccancel()
	cmd := exec.CommandContext(cctx, py, filepath.Join(testutil.RepoRoot(t), "scripts", "reference", "openai_client.py"),
		"http://"+ln.Addr().String()+"/v1", "demo", "test-key")
	cmd.Stdin = bytes.NewReader(cases)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("openai_client.py: %v\n%s", err, stderr.String())
	}
	var got struct {
		Completions []struct {
			Text         string `json:"text"`
			FinishReason string `json:"finish_reason"`
			Usage        Usage  `json:"usage"`
		} `json:"completions"`
		CompletionsStream []struct {
			Text         string `json:"text"`
			FinishReason string `json:"finish_reason"`
		} `json:"completions_stream"`
		Chat []struct {
			Content string `json:"content"`
			Role    string `json:"role"`
		} `json:"chat"`
		ChatStream []struct {
			Content string `json:"content"`
		} `json:"chat_stream"`
		JSON []struct {
			Schema  int    `json:"schema"`
			Seed    int    `json:"seed"`
			Content string `json:"content"`
			Error   string `json:"error"`
		} `json:"json"`
		Concurrent []string `json:"concurrent"`
		Errors     map[string]struct {
			Status int     `json:"status"`
			Param  *string `json:"param"`
		} `json:"errors"`
		Models []string `json:"models"`
	}
	if err := json.Unmarshal(stdout.Bytes(), &got); err != nil {
		t.Fatalf("%v: %s", err, stdout.String())
	}
	for i, p := range prompts {
		ids := d.alone(t, d.tok.Encode(p), maxTokens)
		if want := d.tok.DecodeTransformers(ids, true); got.Completions[i].Text != want {
			t.Errorf("completion %q: %q, want %q", p, got.Completions[i].Text, want)
		}
		if want := d.tok.Decode(ids, true); got.CompletionsStream[i].Text != want || got.CompletionsStream[i].FinishReason == "" {
			t.Errorf("streamed completion %q: %+v, want %q", p, got.CompletionsStream[i], want)
		}
		if u := got.Completions[i].Usage; u.PromptTokens != len(d.tok.Encode(p)) || u.CompletionTokens != len(ids) {
			t.Errorf("usage %+v", u)
		}
	}
	for i, msgs := range chats {
		text, _ := plainTemplate{}.Render(msgs, true)
		ids := d.alone(t, d.tok.Encode(text), maxTokens)
		want, _ := cutStop(d.tok.DecodeTransformers(ids, true), plainTemplate{}.Stop())
		if got.Chat[i].Content != want || got.Chat[i].Role != "assistant" {
			t.Errorf("chat %d: %+v, want %q", i, got.Chat[i], want)
		}
		if want, _ := cutStop(d.tok.Decode(ids, true), plainTemplate{}.Stop()); got.ChatStream[i].Content != want {
			t.Errorf("streamed chat %d: %q, want %q", i, got.ChatStream[i].Content, want)
		}
	}
	if len(got.JSON) != 3*len(jsonSchemas) {
		t.Errorf("%d JSON answers", len(got.JSON))
	}
	for _, j := range got.JSON {
		g, _ := constrain.CompileSchema([]byte(jsonSchemas[j.Schema]))
		st, ok := g.Start().FeedBytes([]byte(j.Content))
		if j.Error != "" || !ok || !st.Accepting() {
			t.Errorf("schema %d seed %d: %q (%s)", j.Schema, j.Seed, j.Content, j.Error)
		}
	}
	for i, p := range testPrompts {
		if want := d.tok.Decode(d.alone(t, d.tok.Encode(p), maxTokens), true); got.Concurrent[i] != want {
			t.Errorf("concurrent stream %d: %q, want %q", i, got.Concurrent[i], want)
		}
	}
	for name, want := range map[string]struct {
		status int
		param  string
	}{"max_tokens_zero": {400, "max_tokens"}, "unknown_model": {400, "model"}, "bad_key": {401, ""}, "models": {200, ""}} {
		e := got.Errors[name]
		p := ""
		if e.Param != nil {
			p = *e.Param
		}
		if e.Status != want.status || p != want.param {
			t.Errorf("%s: %+v, want %+v", name, e, want)
		}
	}
	if len(got.Models) != 1 || got.Models[0] != "demo" {
		t.Errorf("models %v", got.Models)
	}
}
