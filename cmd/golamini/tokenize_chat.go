package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/golamini/golamini/internal/chat"
	"github.com/golamini/golamini/internal/tokenizer"
)

// chatLine is one line of `tokenize --chat`: the arguments of transformers'
// apply_chat_template. Any key other than these is a template variable.
type chatLine struct {
	Messages            []chat.Message    `json:"messages"`
	AddGenerationPrompt bool              `json:"add_generation_prompt"`
	Tools               []json.RawMessage `json:"tools"`
	Documents           []json.RawMessage `json:"documents"`
	Vars                map[string]any    `json:"-"`
}

// parseChatLine reads a chat line, with the keys it does not name as variables.
func parseChatLine(line []byte) (chat.Input, error) {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(line, &raw); err != nil {
		return chat.Input{}, fmt.Errorf(`want a JSON object like {"messages": [{"role": "user", "content": "..."}]}: %w`, err)
	}
	var l chatLine
	if err := json.Unmarshal(line, &l); err != nil {
		return chat.Input{}, err
	}
	if _, ok := raw["messages"]; !ok {
		return chat.Input{}, errors.New(`missing field "messages" (a list of {"role", "content"})`)
	}
	in := chat.Input{Messages: l.Messages, AddGenerationPrompt: l.AddGenerationPrompt, Tools: l.Tools, Documents: l.Documents}
	for k, v := range raw {
		switch k {
		case "messages", "add_generation_prompt", "tools", "documents":
			continue
		}
		if in.Vars == nil {
			in.Vars = map[string]any{}
		}
		in.Vars[k] = v
	}
	return in, nil
}

// tokenizeChat renders each line with the model's chat template and encodes
// the text as apply_chat_template(tokenize=True) does: the special tokens the
// template wrote are matched as tokens, and none are added on top.
func tokenizeChat(ctx context.Context, tok *tokenizer.Tokenizer, dir string, stdin io.Reader, stdout io.Writer) error {
	set, err := chat.Load(dir)
	if err != nil {
		return err
	}
	// Parsed once per template choice (tools pick "tool_use" when a model has one).
	templates := map[bool]*chat.Template{}
	in := bufio.NewReaderSize(stdin, 1<<16)
	out := bufio.NewWriterSize(stdout, 1<<16)
	enc := json.NewEncoder(out)
	enc.SetEscapeHTML(false)
	var line []byte
	for n := 1; ; n++ {
		if err := ctx.Err(); err != nil {
			out.Flush()
			return err
		}
		line, err = readLine(in, line[:0])
		if err == io.EOF && len(line) == 0 {
			return out.Flush()
		}
		if err != nil && err != io.EOF {
			out.Flush()
			return fmt.Errorf("read stdin line %d: %w", n, err)
		}
		if len(bytes.TrimSpace(line)) > 0 {
			ci, err := parseChatLine(line)
			if err == nil {
				tools := ci.Tools != nil
				t := templates[tools]
				if t == nil {
					if t, err = set.Template("", tools); err == nil {
						templates[tools] = t
					}
				}
				if err == nil {
					var text string
					if text, err = t.Render(ci); err == nil {
						ids := tok.Encode(text)
						if ids == nil {
							ids = []int{}
						}
						err = enc.Encode(struct {
							Text string `json:"text"`
							IDs  []int  `json:"ids"`
						}{text, ids})
					}
				}
			}
			if err != nil {
				out.Flush()
				return fmt.Errorf("stdin line %d: %w", n, err)
			}
		}
		if in.Buffered() == 0 {
			if err := out.Flush(); err != nil {
				return fmt.Errorf("write stdout: %w", err)
			}
		}
	}
}
