package chat

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/ardanlabs/jinja"
)

// Template is a compiled chat template. It is safe for concurrent use.
type Template struct {
	// Source is the Jinja text the template was compiled from.
	Source string
	// Special holds the tokenizer's named special tokens (bos_token,
	// eos_token, unk_token, pad_token, ...), which transformers passes to
	// every template as variables; Input.Vars override them.
	Special map[string]string
	// Now gives the time strftime_now formats; nil means time.Now.
	Now func() time.Time

	tmpl *jinja.Template
}

// Parse compiles Jinja source into a Template.
func Parse(source string) (*Template, error) {
	t, err := jinja.Compile(source)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrTemplate, err)
	}
	return &Template{Source: source, tmpl: t, Special: map[string]string{}}, nil
}

// Input is what a template is rendered with, the arguments of transformers'
// apply_chat_template.
type Input struct {
	Messages []Message
	// Tools are tool (function) schemas as JSON values, e.g.
	// {"type": "function", "function": {"name": ..., "parameters": ...}};
	// nil renders the template with tools = none.
	Tools []json.RawMessage
	// Documents for retrieval-augmented templates; nil renders documents = none.
	Documents []json.RawMessage
	// AddGenerationPrompt ends the text with the header of an assistant turn,
	// for generation.
	AddGenerationPrompt bool
	// Vars are further template variables (apply_chat_template's extra
	// keyword arguments, e.g. date_string or enable_thinking); values are Go
	// values that encode to JSON, or json.RawMessage.
	Vars map[string]any
}

// Render returns the text the template makes of in, the string transformers'
// apply_chat_template(messages, tokenize=False, ...) returns.
func (t *Template) Render(in Input) (string, error) {
	if len(in.Messages) == 0 {
		return "", fmt.Errorf("%w: empty conversation", ErrInput)
	}
	data := make(map[string]jinja.Value, 8+len(t.Special)+len(in.Vars))
	for k, v := range t.Special {
		data[k] = jinja.NewString(v)
	}
	for k, v := range in.Vars {
		x, err := goValue(v)
		if err != nil {
			return "", fmt.Errorf("%w: variable %q: %v", ErrInput, k, err)
		}
		data[k] = x
	}
	msgs := make([]jinja.Value, len(in.Messages))
	for i, m := range in.Messages {
		v, err := m.value()
		if err != nil {
			return "", fmt.Errorf("%w: message %d: %v", ErrInput, i, err)
		}
		msgs[i] = v
	}
	data["messages"] = jinja.NewList(msgs)
	var err error
	if data["tools"], err = rawList(in.Tools); err != nil {
		return "", fmt.Errorf("%w: tools: %v", ErrInput, err)
	}
	if data["documents"], err = rawList(in.Documents); err != nil {
		return "", fmt.Errorf("%w: documents: %v", ErrInput, err)
	}
	data["add_generation_prompt"] = jinja.NewBool(in.AddGenerationPrompt)
	t.addGlobals(data)
	return t.run(data)
}

// run renders, turning a panic inside the engine (a template is input the
// model's files bring) into an ErrTemplate error.
func (t *Template) run(data map[string]jinja.Value) (out string, err error) {
	defer func() {
		if p := recover(); p != nil {
			out, err = "", fmt.Errorf("%w: the template engine failed: %v", ErrTemplate, p)
		}
	}()
	out, err = t.tmpl.RenderValues(data)
	if err != nil {
		return "", fmt.Errorf("%w: %w", ErrTemplate, err)
	}
	return out, nil
}

func rawList(items []json.RawMessage) (jinja.Value, error) {
	if items == nil {
		return jinja.None(), nil
	}
	vs := make([]jinja.Value, len(items))
	for i, it := range items {
		v, err := jsonValue(it)
		if err != nil {
			return jinja.Undefined(), fmt.Errorf("item %d: %v", i, err)
		}
		vs[i] = v
	}
	return jinja.NewList(vs), nil
}

// addGlobals puts the functions transformers adds to its Jinja environment
// into the template's variables, where they shadow the engine's own builtins:
// strftime_now with Python's strftime directives (the engine's maps only a
// few, through Go layouts that also rewrite digits in literal text), and
// raise_exception whose error is the template's message.
func (t *Template) addGlobals(data map[string]jinja.Value) {
	now := t.Now
	if now == nil {
		now = time.Now
	}
	if _, ok := data["strftime_now"]; !ok {
		data["strftime_now"] = jinja.NewCallable("strftime_now", func(args []jinja.Value, _ map[string]jinja.Value) (jinja.Value, error) {
			if len(args) != 1 || !args[0].IsString() {
				return jinja.Undefined(), fmt.Errorf("strftime_now takes one format string")
			}
			return jinja.NewString(strftime(args[0].AsString(), now())), nil
		})
	}
	if _, ok := data["range"]; !ok {
		data["range"] = jinja.NewCallable("range", sandboxRange)
	}
	if _, ok := data["raise_exception"]; !ok {
		data["raise_exception"] = jinja.NewCallable("raise_exception", func(args []jinja.Value, _ map[string]jinja.Value) (jinja.Value, error) {
			msg := "raise_exception called"
			if len(args) > 0 && args[0].IsString() {
				msg = args[0].AsString()
			} else if len(args) > 0 {
				msg = args[0].String()
			}
			return jinja.Undefined(), &RaisedError{Message: msg}
		})
	}
}

// RaisedError is the error of a template that called raise_exception(message)
// (e.g. "Conversation roles must alternate user/assistant/..."). Render's
// error wraps it: errors.As finds it, and errors.Is(err, ErrTemplate) holds.
type RaisedError struct{ Message string }

func (e *RaisedError) Error() string { return e.Message }
