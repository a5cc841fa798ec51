package chat

import (
	"encoding/json"
	"errors"
	"os"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/golamini/golamini/internal/testutil"
)

// goldenCase is a row of testdata/chat/goldens.json (scripts/reference/chat_goldens.py).
type goldenCase struct {
	Template            string                     `json:"template"`
	Name                string                     `json:"name"`
	Messages            []Message                  `json:"messages"`
	AddGenerationPrompt bool                       `json:"add_generation_prompt"`
	Tools               []json.RawMessage          `json:"tools"`
	Vars                map[string]json.RawMessage `json:"vars"`
	Text                *string                    `json:"text"`
	Error               string                     `json:"error"`
	Overflow            string                     `json:"overflow"` // the sandbox refused a range() longer than maxRange
	IDs                 []int                      `json:"ids"`
	AssistantSpans      [][2]int                   `json:"assistant_spans"`
}

type goldens struct {
	Special map[string]map[string]string `json:"special_tokens"`
	GGUF    *struct {
		File           string            `json:"file"`
		SameTemplateAs string            `json:"same_template_as"`
		Special        map[string]string `json:"special_tokens"`
	} `json:"gguf"`
	Templates map[string]string `json:"templates"`
	Cases     []goldenCase      `json:"cases"`
}

func loadGoldens(t *testing.T) goldens {
	t.Helper()
	b, err := os.ReadFile(testutil.Testdata(t, "chat", "goldens.json"))
	if err != nil {
		t.Fatal(err)
	}
	var g goldens
	if err := json.Unmarshal(b, &g); err != nil {
		t.Fatal(err)
	}
	return g
}

// realTemplates are the model directories under ../shared/data/tokenizers/ the goldens render.
var realTemplates = []string{"qwen2.5", "smollm2"}

// goldenTemplate gives the template a case renders with: a real one loaded
// from ../shared the way a model directory is, or one written in the goldens file.
func goldenTemplate(t *testing.T, g goldens, name string, cache map[string]*Template) *Template {
	t.Helper()
	if tm, ok := cache[name]; ok {
		return tm
	}
	var tm *Template
	if src, ok := g.Templates[name]; ok {
		var err error
		if tm, err = Parse(src); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		tm.Special = g.Special["smollm2"]
	} else {
		set, err := Load(testutil.Shared(t, "data", "tokenizers", name))
		if err != nil {
			t.Fatal(err)
		}
		if tm, err = set.Template("", false); err != nil {
			t.Fatal(err)
		}
		// The special tokens are the ones transformers passed (its special_tokens_map).
		for k, v := range g.Special[name] {
			if tm.Special[k] != v {
				t.Errorf("%s: special token %s = %q, transformers has %q", name, k, tm.Special[k], v)
			}
		}
	}
	cache[name] = tm
	return tm
}

func (c goldenCase) input() Input {
	in := Input{Messages: c.Messages, Tools: c.Tools, AddGenerationPrompt: c.AddGenerationPrompt}
	if len(c.Vars) > 0 {
		in.Vars = map[string]any{}
		for k, v := range c.Vars {
			in.Vars[k] = v
		}
	}
	return in
}

// TestRenderMatchesTransformers: every golden renders to transformers' apply_chat_template text
// (or raises the same raise_exception message).
func TestRenderMatchesTransformers(t *testing.T) {
	g := loadGoldens(t)
	cache := map[string]*Template{}
	for _, c := range g.Cases {
		tm := goldenTemplate(t, g, c.Template, cache)
		got, err := tm.Render(c.input())
		name := c.Template + "/" + c.Name
		if c.Error != "" {
			var raised *RaisedError
			if !errors.Is(err, ErrTemplate) || !errors.As(err, &raised) || raised.Message != c.Error {
				t.Errorf("%s: want raise_exception %q, got %q, %v", name, c.Error, got, err)
			}
			continue
		}
		if c.Overflow != "" {
			if !errors.Is(err, ErrTemplate) || !strings.Contains(err.Error(), "range too big") {
				t.Errorf("%s: want the sandbox's %q, got %q, %v", name, c.Overflow, got, err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s agp=%v: %v", name, c.AddGenerationPrompt, err)
			continue
		}
		if got != *c.Text {
			t.Errorf("%s agp=%v:\n got %q\nwant %q", name, c.AddGenerationPrompt, got, *c.Text)
		}
	}
}

// runeToByte converts Python's character offsets into text to byte offsets.
func runeToByte(text string, r int) int {
	i := 0
	for n := 0; n < r && i < len(text); n++ {
		_, w := utf8.DecodeRuneInString(text[i:])
		i += w
	}
	return i
}

func TestGoldensCoverRealTemplates(t *testing.T) {
	g := loadGoldens(t)
	seen := map[string]int{}
	for _, c := range g.Cases {
		seen[c.Template]++
	}
	for _, n := range realTemplates {
		if seen[n] < 10 {
			t.Errorf("goldens hold %d cases for %s", seen[n], n)
		}
	}
	if !strings.Contains(g.Templates["namespace_and_strings"], "namespace(") {
		t.Error("goldens lost the namespace template")
	}
}

// TestAssistantSpansMatchReference: the labelled ranges equal those the reference script found
// with transformers (by rendering each conversation prefix), for every golden that has them.
func TestAssistantSpansMatchReference(t *testing.T) {
	g := loadGoldens(t)
	cache := map[string]*Template{}
	n := 0
	for _, c := range g.Cases {
		if c.AssistantSpans == nil {
			continue
		}
		tm := goldenTemplate(t, g, c.Template, cache)
		text, spans, err := AssistantSpans(tm, c.input(), tm.Special["eos_token"])
		if err != nil {
			t.Errorf("%s/%s: %v", c.Template, c.Name, err)
			continue
		}
		if text != *c.Text {
			t.Errorf("%s/%s: text differs", c.Template, c.Name)
		}
		if len(spans) != len(c.AssistantSpans) {
			t.Errorf("%s/%s: %d spans, want %d", c.Template, c.Name, len(spans), len(c.AssistantSpans))
			continue
		}
		for i, s := range c.AssistantSpans {
			want := Span{runeToByte(text, s[0]), runeToByte(text, s[1])}
			if spans[i] != want {
				t.Errorf("%s/%s span %d: %v %q, want %v %q", c.Template, c.Name, i, spans[i], text[spans[i].Start:spans[i].End], want, text[want.Start:want.End])
			}
		}
		n++
	}
	if n < 8 {
		t.Errorf("only %d goldens with assistant spans", n)
	}
}

func TestAssistantSpansErrors(t *testing.T) {
	tm, err := Parse("{% for m in messages %}{{ m.role }}: {{ m.content | upper }}\n{% endfor %}")
	if err != nil {
		t.Fatal(err)
	}
	in := Input{Messages: []Message{{Role: "user", Content: "hi"}, {Role: "assistant", Content: "hello"}}}
	if _, _, err := AssistantSpans(tm, in, "\n"); !errors.Is(err, ErrSpan) || !strings.Contains(err.Error(), "message 1") {
		t.Errorf("rewritten content: %v", err)
	}
	tm, _ = Parse("{% for m in messages %}{{ m.role }}: {{ m.content }}{% endfor %}")
	if _, _, err := AssistantSpans(tm, in, "<end>"); !errors.Is(err, ErrSpan) || !strings.Contains(err.Error(), `"<end>"`) {
		t.Errorf("no end of turn: %v", err)
	}
	if _, err := tm.Render(Input{}); !errors.Is(err, ErrInput) {
		t.Errorf("empty conversation: %v", err)
	}
}
