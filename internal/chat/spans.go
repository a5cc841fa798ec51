package chat

import (
	"fmt"
	"strings"
)

// Span is a byte range [Start, End) of rendered text.
type Span struct{ Start, End int }

// AssistantSpans renders a conversation (without a generation prompt) and
// returns the text with the byte ranges that training labels: for each
// assistant message, its reply as the template wrote it followed by the
// end-of-turn text eot (e.g. "<|im_end|>"), so that a tuned model learns to
// stop. The template's turn header before a reply is not in the span.
//
// A reply is found by character offsets, not by token patterns: the
// conversation up to the message is rendered with add_generation_prompt, and
// when the full text begins with that prefix the reply starts after it (at its
// content, which some templates precede with an empty reasoning block);
// otherwise (templates that render earlier turns differently once later ones
// follow) the content is searched for after the previous turn. The span ends
// after the first eot at or after the content's end. A message whose content
// the template rewrote beyond recognition, or a turn without eot, is an
// ErrSpan naming the message.
func AssistantSpans(t *Template, in Input, eot string) (string, []Span, error) {
	if eot == "" {
		return "", nil, fmt.Errorf("%w: no end-of-turn text", ErrInput)
	}
	full := in
	full.AddGenerationPrompt = false
	text, err := t.Render(full)
	if err != nil {
		return "", nil, err
	}
	var spans []Span
	cursor := 0
	for i, m := range in.Messages {
		if m.Role != "assistant" {
			continue
		}
		start := -1
		if i > 0 {
			prefixIn := in
			prefixIn.Messages = in.Messages[:i]
			prefixIn.AddGenerationPrompt = true
			prefix, err := t.Render(prefixIn)
			if err == nil && strings.HasPrefix(text, prefix) && len(prefix) >= cursor {
				start = len(prefix)
			}
		}
		if start < 0 {
			start = cursor
		}
		contentEnd := start
		if m.Content != "" {
			k := strings.Index(text[start:], m.Content)
			if k < 0 {
				return "", nil, fmt.Errorf("%w: message %d: its content is not in the rendered text after byte %d", ErrSpan, i, start)
			}
			start += k
			contentEnd = start + len(m.Content)
		}
		k := strings.Index(text[contentEnd:], eot)
		if k < 0 {
			return "", nil, fmt.Errorf("%w: message %d: no %q after its content", ErrSpan, i, eot)
		}
		end := contentEnd + k + len(eot)
		spans = append(spans, Span{start, end})
		cursor = end
	}
	return text, spans, nil
}
