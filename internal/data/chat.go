package data

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"unicode/utf8"

	"github.com/golamini/golamini/internal/chat"
)

// Conversation is one row of chat data: messages in the format TRL and
// OpenAI use ({"role": "system"|"user"|"assistant"|"tool", "content": ...}),
// with optional tool schemas.
type Conversation struct {
	Messages []chat.Message
	Tools    []json.RawMessage
	// Row is the 0-based index of the record in its source.
	Row int
}

// ChatFromPairs turns question/answer pairs into conversations of one user
// turn and one assistant turn, for training pairs in a model's chat format.
func ChatFromPairs(examples []Example) []Conversation {
	out := make([]Conversation, len(examples))
	for i, ex := range examples {
		out[i] = Conversation{Row: ex.Row, Messages: []chat.Message{
			{Role: "user", Content: ex.Input}, {Role: "assistant", Content: ex.Output}}}
	}
	return out
}

// ReadChatJSONLines reads a JSON-lines file whose records hold "messages"
// (a non-empty list of {"role", "content", ...}) and optionally "tools".
// Other keys are ignored. The line format is ScanJSONLines'. A record
// without an assistant message is an error (it has nothing to learn), as is
// any malformed record: the *InputError names the file, line and key.
func ReadChatJSONLines(path string) ([]Conversation, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("data: %w", err)
	}
	defer f.Close()
	return ScanChatJSONLines(context.Background(), f, path)
}

// ScanChatJSONLines is ReadChatJSONLines on a stream; name is the file name
// used in errors.
func ScanChatJSONLines(ctx context.Context, r io.Reader, name string) ([]Conversation, error) {
	var out []Conversation
	err := eachJSONLine(ctx, r, name, func(line []byte, n int) error {
		c, err := parseChatLine(line, name, n)
		if err != nil {
			return err
		}
		c.Row = len(out)
		out = append(out, c)
		return nil
	})
	if err != nil {
		return nil, err
	}
	if len(out) == 0 {
		return nil, inputErr(name, 0, "", ErrEmpty, "the file holds no JSON lines")
	}
	return out, nil
}

func parseChatLine(line []byte, file string, n int) (Conversation, error) {
	trimmed := bytes.TrimLeft(line, jsonSpace)
	if trimmed[0] != '{' {
		return Conversation{}, inputErr(file, n, "", ErrMalformed, "not a JSON object (line starts with %q)", firstRunes(trimmed, 12))
	}
	if !utf8.Valid(line) {
		return Conversation{}, inputErr(file, n, "", ErrInvalidUTF8, "")
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(line, &raw); err != nil {
		return Conversation{}, inputErr(file, n, "", ErrMalformed, "%v", err)
	}
	msgs, ok := raw["messages"]
	if !ok {
		return Conversation{}, inputErr(file, n, "messages", ErrMissingKey, "")
	}
	var c Conversation
	if err := json.Unmarshal(msgs, &c.Messages); err != nil {
		return Conversation{}, inputErr(file, n, "messages", ErrMalformed, "want a list of {\"role\", \"content\"} objects: %v", err)
	}
	if len(c.Messages) == 0 {
		return Conversation{}, inputErr(file, n, "messages", ErrMalformed, "the list is empty")
	}
	assistant := false
	for _, m := range c.Messages {
		assistant = assistant || m.Role == "assistant"
	}
	if !assistant {
		return Conversation{}, inputErr(file, n, "messages", ErrMalformed, "no assistant message to learn from")
	}
	if t, ok := raw["tools"]; ok && !bytes.Equal(bytes.TrimSpace(t), []byte("null")) {
		if err := json.Unmarshal(t, &c.Tools); err != nil {
			return Conversation{}, inputErr(file, n, "tools", ErrMalformed, "want a list of tool schemas: %v", err)
		}
	}
	return c, nil
}

// OffsetEncoder encodes text into token ids (no special tokens added) with
// each token's byte range [start, end) in the text.
type OffsetEncoder interface {
	EncodeOffsets(text string) (ids []int, offsets [][2]int)
}

// ChatTokenizeOptions controls TokenizeChat.
type ChatTokenizeOptions struct {
	// EndOfTurn is the text that closes an assistant turn in the rendered
	// template (e.g. "<|im_end|>", usually the tokenizer's eos_token); it is
	// learned with the reply, so the model learns to stop.
	EndOfTurn string
	// MaxLength, ContextLength and TruncateLeft cut long rows as Tokenize does.
	MaxLength     int
	ContextLength int
	TruncateLeft  bool
}

// TokenizeChat renders each conversation with the template (no generation
// prompt), encodes the whole text at once (so the ids are the template's
// tokenization) and labels only the tokens of assistant replies and their
// end-of-turn text: every other label is -100. The replies are found by
// character offsets (chat.AssistantSpans) and mapped to tokens through the
// encoder's offsets (AssistantLabels). Errors name the conversation's row.
func TokenizeChat(convs []Conversation, t *chat.Template, enc OffsetEncoder, opts ChatTokenizeOptions) ([]Tokenized, error) {
	if t == nil || enc == nil {
		return nil, errors.New("data: tokenize chat: nil template or encoder")
	}
	o := TokenizeOptions{MaxLength: opts.MaxLength, ContextLength: opts.ContextLength}
	if err := o.validate(); err != nil {
		return nil, fmt.Errorf("data: tokenize chat: %w", err)
	}
	limit := o.Limit()
	out := make([]Tokenized, len(convs))
	for i, c := range convs {
		text, spans, err := chat.AssistantSpans(t, chat.Input{Messages: c.Messages, Tools: c.Tools}, opts.EndOfTurn)
		if err != nil {
			return nil, fmt.Errorf("data: conversation %d (row %d): %w", i, c.Row, err)
		}
		ids, offsets := enc.EncodeOffsets(text)
		if len(ids) == 0 {
			return nil, fmt.Errorf("data: conversation %d (row %d): %w", i, c.Row, ErrNoTokens)
		}
		labels := AssistantLabels(ids, offsets, spans)
		cut := 0
		if limit > 0 && len(ids) > limit {
			cut = len(ids) - limit
			if opts.TruncateLeft {
				ids, labels = ids[cut:], labels[cut:]
			} else {
				ids, labels = ids[:limit], labels[:limit]
			}
		}
		out[i] = Tokenized{InputIDs: append([]int(nil), ids...), Labels: append([]int(nil), labels...), Truncated: cut}
	}
	return out, nil
}

// AssistantLabels gives token labels from byte spans of the text: a token
// whose byte range overlaps a span keeps its id as label, the others get
// -100. Overlap (not containment) is the rule because a token may cross a
// span's edge (e.g. a space merged into the first word of a reply); the
// reply's first and last characters are then still learned, as they are
// where transformers marks tokens through char_to_token.
func AssistantLabels(ids []int, offsets [][2]int, spans []chat.Span) []int {
	labels := make([]int, len(ids))
	s := 0
	for i, id := range ids {
		labels[i] = IgnoreIndex
		if i >= len(offsets) {
			continue
		}
		a, b := offsets[i][0], offsets[i][1]
		for s < len(spans) && spans[s].End <= a {
			s++
		}
		// Spans are in order and do not overlap; a token may reach into the next one.
		for k := s; k < len(spans) && spans[k].Start < b; k++ {
			if spans[k].End > a && b > a {
				labels[i] = id
				break
			}
		}
	}
	return labels
}
