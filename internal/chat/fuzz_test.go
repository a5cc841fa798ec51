package chat

import (
	"encoding/json"
	"errors"
	"testing"
)

// FuzzRenderMessages: any JSON given as messages, tools or a variable renders or fails with an
// ErrInput / ErrTemplate error, never a panic.
func FuzzRenderMessages(f *testing.F) {
	for _, s := range []string{
		`[{"role": "user", "content": "hi"}]`,
		`[{"role": "assistant", "content": null, "tool_calls": [{"function": {"name": "f", "arguments": {"a": [1, 2.5e3, -0.0]}}}]}]`,
		`[{"role": "user", "content": [{"type": "text", "text": "x"}]}, {"role": "assistant", "content": "<think>a</think>b"}]`,
		`[{"role": "user"}]`, `[]`, `{}`, `[[[[]]]]`, `[{"role": 3}]`, `[{"role": "user", "content": "\u0000\ud800"}]`,
	} {
		f.Add(s)
	}
	tm, err := Parse(`{%- set ns = namespace(n=0) -%}{% for m in messages %}{% set ns.n = ns.n + 1 %}{{ m.role }}:{{ m.content | tojson }}|{{ m.content is string and m.content.strip() }}{% if m.tool_calls %}{{ m.tool_calls | tojson }}{% endif %}{% endfor %}{{ tools | tojson }}{{ extra }}{{ ns.n }}`)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, s string) {
		var msgs []Message
		if json.Unmarshal([]byte(s), &msgs) != nil {
			msgs = []Message{{Role: "user", Content: s}}
		}
		in := Input{Messages: msgs, Tools: []json.RawMessage{json.RawMessage(s)}, Vars: map[string]any{"extra": json.RawMessage(s)}}
		if _, err := tm.Render(in); err != nil && !errors.Is(err, ErrInput) && !errors.Is(err, ErrTemplate) {
			t.Fatalf("%q: %v", s, err)
		}
		if _, _, err := AssistantSpans(tm, in, "|"); err != nil && !errors.Is(err, ErrInput) && !errors.Is(err, ErrTemplate) && !errors.Is(err, ErrSpan) {
			t.Fatalf("%q: spans: %v", s, err)
		}
	})
}
