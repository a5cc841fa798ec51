package runner

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/golamini/golamini/internal/testutil"
)

func newDemo(t *testing.T) *Runner {
	t.Helper()
	r, err := New(testutil.Testdata(t, "models", "demo"), WithDevice("cpu"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	return r
}

func TestOutputTypeSchema(t *testing.T) {
	b, err := OutputType{"score": "int", "answer": "str", "tags": "list[str]", "ok": "bool", "p": "float"}.Schema()
	if err != nil {
		t.Fatal(err)
	}
	want := `{"type":"object","properties":{"answer":{"type":"string"},"ok":{"type":"boolean"},"p":{"type":"number"},"score":{"type":"integer"},"tags":{"type":"array","items":{"type":"string"}}},"required":["answer","ok","p","score","tags"],"additionalProperties":false}`
	if string(b) != want {
		t.Errorf("schema\n%s\nwant\n%s", b, want)
	}
	if _, err := (OutputType{"a": "date"}).Schema(); !errors.Is(err, ErrSchema) {
		t.Errorf("unknown type: %v", err)
	}
}

func TestInferJSON(t *testing.T) {
	r := newDemo(t)
	ctx := context.Background()
	out, err := r.InferJSON(ctx, "How do I add data to Lamini?", OutputType{"answer": "str", "score": "int"})
	if err != nil {
		t.Fatal(err)
	}
	var v struct {
		Answer *string `json:"answer"`
		Score  *int    `json:"score"`
	}
	d := json.NewDecoder(strings.NewReader(string(out)))
	d.DisallowUnknownFields()
	if err := d.Decode(&v); err != nil || v.Answer == nil || v.Score == nil {
		t.Errorf("%s: %v", out, err)
	}
	out, err = r.InferJSON(ctx, "Colors:", `{"type":"array","items":{"enum":["red","green"]},"minItems":2,"maxItems":2}`)
	var colors []string
	if err != nil || json.Unmarshal(out, &colors) != nil || len(colors) != 2 {
		t.Errorf("%s: %v", out, err)
	}
	if _, err := r.InferJSON(ctx, "x", `{"type":"string","pattern":"a"}`); !errors.Is(err, ErrSchema) {
		t.Errorf("unsupported keyword: %v", err)
	}
}

func TestNewServer(t *testing.T) {
	r := newDemo(t)
	s, err := r.NewServer(ServeOptions{ModelName: "demo"})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ts := httptest.NewServer(s)
	defer ts.Close()
	resp, err := http.Post(ts.URL+"/v1/completions", "application/json", strings.NewReader(`{"model":"demo","prompt":"Lamini is","max_tokens":8,"temperature":0}`))
	if err != nil {
		t.Fatal(err)
	}
	var cr struct {
		Choices []struct{ Text string } `json:"choices"`
	}
	json.NewDecoder(resp.Body).Decode(&cr)
	resp.Body.Close()
	o := DefaultGenerateOptions()
	o.MaxNewTokens = 8
	want, err := r.Generate(context.Background(), []string{"Lamini is"}, o)
	if err != nil {
		t.Fatal(err)
	}
	if len(cr.Choices) != 1 || cr.Choices[0].Text != want[0].Text {
		t.Errorf("served %+v, Infer %q", cr, want[0].Text)
	}
	// The demo model has no chat template: 400 saying so.
	resp, err = http.Post(ts.URL+"/v1/chat/completions", "application/json", strings.NewReader(`{"model":"demo","messages":[{"role":"user","content":"hi"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 400 || !strings.Contains(string(b), "no chat template") {
		t.Errorf("chat without template: %d %s", resp.StatusCode, b)
	}
}

// TestServeChatEqualsChat: with a chat template, /v1/chat/completions
// (plain and streamed) gives what r.Chat gives.
func TestServeChatEqualsChat(t *testing.T) {
	src := testutil.Testdata(t, "models", "demo")
	dir := t.TempDir()
	for _, f := range []string{"config.json", "generation_config.json", "model.safetensors", "special_tokens_map.json", "tokenizer.json"} {
		if err := os.Symlink(filepath.Join(src, f), filepath.Join(dir, f)); err != nil {
			t.Fatal(err)
		}
	}
	b, err := os.ReadFile(filepath.Join(src, "tokenizer_config.json"))
	if err != nil {
		t.Fatal(err)
	}
	var tc map[string]any
	json.Unmarshal(b, &tc)
	tc["chat_template"] = "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|endoftext|>\n{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
	b, _ = json.Marshal(tc)
	if err := os.WriteFile(filepath.Join(dir, "tokenizer_config.json"), b, 0o644); err != nil {
		t.Fatal(err)
	}
	r, err := New(dir, WithDevice("cpu"))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	msgs := []Message{{Role: "system", Content: "Be brief."}, {Role: "user", Content: "How do I add data to Lamini?"}}
	o := DefaultChatOptions()
	o.MaxNewTokens = 30
	want, err := r.Chat(context.Background(), msgs, o)
	if err != nil {
		t.Fatal(err)
	}
	s, err := r.NewServer(ServeOptions{ModelName: "demo"})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ts := httptest.NewServer(s)
	defer ts.Close()
	body := `{"model":"demo","messages":[{"role":"system","content":"Be brief."},{"role":"user","content":"How do I add data to Lamini?"}],"max_tokens":30,"temperature":0}`
	resp, err := http.Post(ts.URL+"/v1/chat/completions", "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	var cr struct {
		Choices []struct {
			Message struct{ Content string } `json:"message"`
		} `json:"choices"`
	}
	json.NewDecoder(resp.Body).Decode(&cr)
	resp.Body.Close()
	if want == "" {
		t.Fatal("r.Chat answered nothing: the comparison would prove little")
	}
	if resp.StatusCode != 200 || len(cr.Choices) != 1 || cr.Choices[0].Message.Content != want {
		t.Errorf("served %d %+v, Chat %q", resp.StatusCode, cr, want)
	}
}
