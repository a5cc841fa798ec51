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
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/golamini/golamini/internal/chat"
	"github.com/golamini/golamini/internal/testutil"
)

// demoWithTemplate copies the project's demo model into a temp dir and adds a chat template
// (chat_template.jinja, as transformers 5 saves it) and files beside it.
func demoWithTemplate(t *testing.T, files map[string]string) string {
	t.Helper()
	src := testutil.Testdata(t, "models", "demo")
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
		if err := os.WriteFile(filepath.Join(dir, e.Name()), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// demoTemplate is a ChatML-style template whose end of turn is the demo tokenizer's eos.
const demoTemplate = "{% for m in messages %}{{ m.role }}: {{ m.content }}{{ eos_token }}\n{% endfor %}{% if add_generation_prompt %}assistant:{% endif %}"

func TestChat(t *testing.T) {
	ctx := context.Background()
	dir := demoWithTemplate(t, map[string]string{"chat_template.jinja": demoTemplate})
	r, err := New(dir, WithDevice("cpu"))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	msgs := []Message{{Role: "system", Content: "Answer briefly."}, {Role: "user", Content: "How do I train?"}}
	o := DefaultChatOptions()
	o.MaxNewTokens = 12
	prompt, err := r.ChatPrompt(msgs, o)
	if err != nil {
		t.Fatal(err)
	}
	if want := "system: Answer briefly.<|endoftext|>\nuser: How do I train?<|endoftext|>\nassistant:"; prompt != want {
		t.Fatalf("prompt %q, want %q", prompt, want)
	}
	// The reply is the model's continuation of the rendered prompt.
	g, err := r.Generate(ctx, []string{prompt}, o.GenerateOptions)
	if err != nil {
		t.Fatal(err)
	}
	reply, err := r.Chat(ctx, msgs, o)
	if err != nil {
		t.Fatal(err)
	}
	if reply != g[0].Text || len(g[0].NewIDs) < 4 {
		t.Fatalf("Chat %q, Generate %q (%v)", reply, g[0].Text, g[0].NewIDs)
	}
	var pieces []string
	streamed, err := r.ChatStream(ctx, msgs, o, func(p string) bool { pieces = append(pieces, p); return true })
	if err != nil || streamed != strings.Join(pieces, "") || streamed != r.Tokenizer().Decode(g[0].NewIDs, true) {
		t.Errorf("stream %q pieces %q, %v", streamed, pieces, err)
	}

	// generation_config.json's eos_token_id list is the end of turn: make the reply's third token
	// one of them, and the reply stops before it, without it.
	stop := g[0].NewIDs[2]
	dir2 := demoWithTemplate(t, map[string]string{"chat_template.jinja": demoTemplate,
		"generation_config.json": `{"eos_token_id": [0, ` + itoa(stop) + `]}`})
	r2, err := New(dir2, WithDevice("cpu"))
	if err != nil {
		t.Fatal(err)
	}
	defer r2.Close()
	ids, err := r2.EndOfTurnIDs()
	if err != nil || !slices.Equal(ids, []int{0, stop}) {
		t.Fatalf("end of turn ids %v %v", ids, err)
	}
	short, err := r2.Chat(ctx, msgs, o)
	if want := r.Tokenizer().DecodeTransformers(g[0].NewIDs[:2], true); err != nil || short != want {
		t.Errorf("stopped reply %q, want %q (%v)", short, want, err)
	}
	// Plain generation stops there too (with the id), as transformers' generate
	// stops at every eos_token_id of generation_config.json; not without StopAtEOS.
	for _, atEOS := range []bool{true, false} {
		go_ := o.GenerateOptions
		go_.StopAtEOS = atEOS
		g2, err := r2.Generate(ctx, []string{prompt}, go_)
		if err != nil {
			t.Fatal(err)
		}
		want := g[0].NewIDs
		if atEOS {
			want = want[:3]
		}
		if !slices.Equal(g2[0].NewIDs, want) {
			t.Errorf("StopAtEOS %v: new ids %v, want %v", atEOS, g2[0].NewIDs, want)
		}
	}
}

func itoa(n int) string { return strconv.Itoa(n) }

func TestChatWithoutTemplate(t *testing.T) {
	r, err := New(testutil.Testdata(t, "models", "demo"), WithDevice("cpu"))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	_, err = r.Chat(context.Background(), []Message{{Role: "user", Content: "hi"}}, DefaultChatOptions())
	if !errors.Is(err, chat.ErrNoTemplate) || !strings.Contains(err.Error(), "no chat template") {
		t.Errorf("got %v", err)
	}
}

// TestServeChat: /v1/chat/completions renders the model's chat template and answers as Chat does.
func TestServeChat(t *testing.T) {
	dir := demoWithTemplate(t, map[string]string{"chat_template.jinja": demoTemplate})
	r, err := New(dir, WithDevice("cpu"))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	s, err := r.NewServer(ServeOptions{ModelName: "demo"})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ts := httptest.NewServer(s)
	defer ts.Close()
	resp, err := http.Post(ts.URL+"/v1/chat/completions", "application/json", strings.NewReader(
		`{"model":"demo","messages":[{"role":"system","content":"Answer briefly."},{"role":"user","content":"How do I train?"}],"max_tokens":10,"temperature":0}`))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	var cr struct {
		Choices []struct {
			Message struct{ Content string } `json:"message"`
		} `json:"choices"`
	}
	if err := json.Unmarshal(b, &cr); err != nil || resp.StatusCode != 200 || len(cr.Choices) != 1 {
		t.Fatalf("%d %s", resp.StatusCode, b)
	}
	o := DefaultChatOptions()
	o.MaxNewTokens = 10
	want, err := r.Chat(context.Background(), []Message{{Role: "system", Content: "Answer briefly."}, {Role: "user", Content: "How do I train?"}}, o)
	if err != nil || cr.Choices[0].Message.Content != want {
		t.Errorf("served %q, Chat %q (%v)", cr.Choices[0].Message.Content, want, err)
	}
}

// A saved model keeps the source's chat_template.jinja (transformers 5's
// place for it): the copy chats with the same prompt.
func TestSaveModelKeepsChatTemplate(t *testing.T) {
	dir := demoWithTemplate(t, map[string]string{"chat_template.jinja": demoTemplate})
	r, err := New(dir, WithDevice("cpu"))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	out := filepath.Join(t.TempDir(), "saved")
	if err := r.SaveModel(out, "float32"); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(out, "chat_template.jinja"))
	if err != nil || string(b) != demoTemplate {
		t.Fatalf("saved chat_template.jinja: %v: %q", err, b)
	}
	r2, err := New(out, WithDevice("cpu"))
	if err != nil {
		t.Fatal(err)
	}
	defer r2.Close()
	msgs := []Message{{Role: "user", Content: "How do I train?"}}
	p1, err1 := r.ChatPrompt(msgs, DefaultChatOptions())
	p2, err2 := r2.ChatPrompt(msgs, DefaultChatOptions())
	if err1 != nil || err2 != nil || p1 != p2 || p1 == "" {
		t.Errorf("prompts %q (%v) and %q (%v)", p1, err1, p2, err2)
	}
}
