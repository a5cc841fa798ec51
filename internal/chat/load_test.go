package chat

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func writeFiles(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, body := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestLoadForms(t *testing.T) {
	// The list-of-named-templates form: "tool_use" is picked when tools are given, as in transformers.
	dir := writeFiles(t, map[string]string{
		"tokenizer_config.json": `{"eos_token": {"content": "<e>", "special": true}, "bos_token": "<b>", "pad_token": null,
			"chat_template": [{"name": "default", "template": "D{{ eos_token }}"}, {"name": "tool_use", "template": "T"}]}`,
		"generation_config.json": `{"eos_token_id": [2, 7]}`,
	})
	s, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	if s.Special["eos_token"] != "<e>" || s.Special["bos_token"] != "<b>" || len(s.Special) != 2 {
		t.Errorf("special tokens %v", s.Special)
	}
	if len(s.EOSIDs) != 2 || s.EOSIDs[1] != 7 {
		t.Errorf("EOSIDs %v", s.EOSIDs)
	}
	for _, c := range []struct {
		name  string
		tools bool
		want  string
	}{{"", false, "D<e>"}, {"", true, "T"}, {"tool_use", false, "T"}} {
		tm, err := s.Template(c.name, c.tools)
		if err != nil {
			t.Fatal(err)
		}
		got, err := tm.Render(Input{Messages: []Message{{Role: "user", Content: "x"}}})
		if err != nil || got != c.want {
			t.Errorf("%+v: %q %v", c, got, err)
		}
	}
	if _, err := s.Template("nope", false); !errors.Is(err, ErrNoTemplate) || !strings.Contains(err.Error(), "default, tool_use") {
		t.Errorf("unknown name: %v", err)
	}

	// chat_template.jinja beside tokenizer_config.json wins, as transformers 5 reads it.
	dir = writeFiles(t, map[string]string{
		"tokenizer_config.json": `{"chat_template": "config"}`,
		"chat_template.jinja":   "file",
	})
	if s, err = Load(dir); err != nil {
		t.Fatal(err)
	}
	if src, _ := s.Pick("", false); src != "file" {
		t.Errorf("chat_template.jinja not preferred: %q", src)
	}

	// No template at all: a clear error naming the directory.
	dir = writeFiles(t, map[string]string{"tokenizer_config.json": `{"eos_token": "</s>"}`})
	if s, err = Load(dir); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Template("", false); !errors.Is(err, ErrNoTemplate) || !strings.Contains(err.Error(), dir) {
		t.Errorf("no template: %v", err)
	}

	// Malformed files name the file and field.
	dir = writeFiles(t, map[string]string{"tokenizer_config.json": `{"chat_template": 3}`})
	if _, err := Load(dir); err == nil || !strings.Contains(err.Error(), "tokenizer_config.json") || !strings.Contains(err.Error(), "chat_template") {
		t.Errorf("bad field: %v", err)
	}
	dir = writeFiles(t, map[string]string{"generation_config.json": `{"eos_token_id": "x"}`})
	if _, err := Load(dir); err == nil || !strings.Contains(err.Error(), "eos_token_id") {
		t.Errorf("bad eos_token_id: %v", err)
	}
	if _, err := Parse("{% for %}"); !errors.Is(err, ErrTemplate) {
		t.Errorf("bad template: %v", err)
	}
}

func TestStrftimeNow(t *testing.T) {
	// Python: datetime(2024, 7, 6, 15, 4, 5).strftime(...) on Linux.
	at := time.Date(2024, 7, 6, 15, 4, 5, 123456000, time.Local)
	for format, want := range map[string]string{
		"%d %b %Y":               "06 Jul 2024",
		"%-d %B %Y, %A":          "6 July 2024, Saturday",
		"Today is 1 %Y-%m-%d 05": "Today is 1 2024-07-06 05",
		"%H:%M:%S %I%p %j %y %%": "15:04:05 03PM 188 24 %",
		"%f %a %e %U %W %w":      "123456 Sat  6 26 27 6",
	} {
		if got := strftime(format, at); got != want {
			t.Errorf("%q: %q, want %q", format, got, want)
		}
	}
	tm, err := Parse(`{{ strftime_now("%d %b %Y") }}`)
	if err != nil {
		t.Fatal(err)
	}
	tm.Now = func() time.Time { return at }
	if got, err := tm.Render(Input{Messages: []Message{{Role: "user"}}}); err != nil || got != "06 Jul 2024" {
		t.Errorf("strftime_now: %q %v", got, err)
	}
}

func TestMessageJSON(t *testing.T) {
	var m Message
	line := `{"role":"assistant","content":null,"tool_calls":[{"function":{"name":"f","arguments":{"b":1,"a":2.5}}}]}`
	if err := json.Unmarshal([]byte(line), &m); err != nil {
		t.Fatal(err)
	}
	if m.Role != "assistant" || m.Content != "" {
		t.Errorf("%+v", m)
	}
	tm, err := Parse(`{{ messages[0] | tojson }}|{{ messages[0].content is defined }}`)
	if err != nil {
		t.Fatal(err)
	}
	// Null keys are dropped and key order and number forms kept, as transformers' normalisation does.
	got, err := tm.Render(Input{Messages: []Message{m}})
	want := `{"role": "assistant", "tool_calls": [{"function": {"name": "f", "arguments": {"b": 1, "a": 2.5}}}]}|False`
	if err != nil || got != want {
		t.Errorf("got %q %v\nwant %q", got, err, want)
	}
	if err := json.Unmarshal([]byte(`{"content":"x"}`), &m); err == nil {
		t.Error("message without role accepted")
	}
}
