package chat

import (
	"bytes"
	"encoding/json"
	"fmt"

	"github.com/ardanlabs/jinja"
)

// Message is one turn of a conversation, in the format TRL and OpenAI use:
// {"role": "system"|"user"|"assistant"|"tool", "content": "...", ...}.
//
// Role and Content are the common fields. Any other key of a message read from
// JSON (tool_calls, name, reasoning_content, a content given as a list of
// parts, ...) is kept in Raw with its key order and handed to the template as
// is; Raw's "role" and "content", when present, are what the template sees.
type Message struct {
	Role    string
	Content string
	// Raw is the message's JSON object as read (nil for messages built in Go).
	Raw json.RawMessage
}

// UnmarshalJSON reads a message object, keeping it whole in Raw. "role" must
// be a string; "content" may be a string, null or any other JSON value (only
// a string is copied to Content).
func (m *Message) UnmarshalJSON(b []byte) error {
	var f struct {
		Role    *string         `json:"role"`
		Content json.RawMessage `json:"content"`
	}
	if err := json.Unmarshal(b, &f); err != nil {
		return fmt.Errorf("message: %w", err)
	}
	if f.Role == nil {
		return fmt.Errorf("message has no string \"role\"")
	}
	*m = Message{Role: *f.Role, Raw: append(json.RawMessage(nil), b...)}
	if len(f.Content) > 0 && f.Content[0] == '"' {
		if err := json.Unmarshal(f.Content, &m.Content); err != nil {
			return fmt.Errorf("message content: %w", err)
		}
	}
	return nil
}

// MarshalJSON writes Raw when the message was read from JSON and Role and
// Content unchanged, and {"role", "content"} otherwise.
func (m Message) MarshalJSON() ([]byte, error) {
	if m.Raw != nil {
		var f struct {
			Role    string `json:"role"`
			Content any    `json:"content"`
		}
		if err := json.Unmarshal(m.Raw, &f); err == nil && f.Role == m.Role {
			if s, ok := f.Content.(string); (ok && s == m.Content) || (!ok && m.Content == "") {
				return bytes.Clone(m.Raw), nil
			}
		}
	}
	return json.Marshal(struct {
		Role    string `json:"role"`
		Content string `json:"content"`
	}{m.Role, m.Content})
}

// value is the message as the template sees it. As in transformers
// (_normalize_chat_messages), keys whose value is null are dropped, and a
// reasoning text given as "thinking" or "reasoning" is also offered as
// "reasoning_content" (and the other way round as "thinking"), since
// templates read one name or the other.
func (m Message) value() (jinja.Value, error) {
	b, err := m.MarshalJSON()
	if err != nil {
		return jinja.Undefined(), err
	}
	v, err := jsonValue(b)
	if err != nil {
		return jinja.Undefined(), err
	}
	if !v.IsDict() {
		return jinja.Undefined(), fmt.Errorf("message is not a JSON object")
	}
	in := v.AsDict()
	out := jinja.NewDict()
	d := out.AsDict()
	var reasoning jinja.Value
	haveReasoning := false
	for _, k := range []string{"reasoning_content", "thinking", "reasoning"} {
		if x, ok := in.Get(k); ok && !x.IsNone() {
			reasoning, haveReasoning = x, true
			break
		}
	}
	if haveReasoning {
		// transformers builds {"thinking": r, **message, "reasoning_content": r}.
		d.Set("thinking", reasoning)
	}
	for _, k := range in.OrderedKeys() {
		if x, _ := in.Get(k); !x.IsNone() {
			d.Set(k, x)
		}
	}
	if haveReasoning {
		d.Set("reasoning_content", reasoning)
	}
	return out, nil
}
