package runner

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/golamini/golamini/internal/chat"
	"github.com/golamini/golamini/internal/generate"
	"github.com/golamini/golamini/internal/model"
	"github.com/golamini/golamini/internal/tokenizer"
)

// Message is one turn of a conversation: {"role": "system"|"user"|"assistant"|"tool", "content": ...}.
type Message = chat.Message

// ChatOptions control Chat.
type ChatOptions struct {
	GenerateOptions
	// Tools are tool schemas given to the template (nil: none).
	Tools []json.RawMessage
	// Vars are further template variables (e.g. date_string, enable_thinking).
	Vars map[string]any
	// Template names one of the model's named chat templates ("" = default,
	// or "tool_use" when Tools are given and the model has it).
	Template string
}

// DefaultChatOptions is greedy decoding of up to 256 new tokens, stopping at
// the model's end-of-turn token.
func DefaultChatOptions() ChatOptions {
	g := DefaultGenerateOptions()
	g.MaxNewTokens = 256
	g.MaxInputTokens = 0
	return ChatOptions{GenerateOptions: g}
}

// ChatPrompt renders messages with the model's chat template and a generation
// prompt, as transformers' apply_chat_template(messages,
// add_generation_prompt=True, tokenize=False) does. A model without a chat
// template gives an error wrapping chat.ErrNoTemplate.
func (r *Runner) ChatPrompt(messages []Message, o ChatOptions) (string, error) {
	t, err := r.chatTemplate(o.Template, o.Tools != nil)
	if err != nil {
		return "", err
	}
	text, err := t.Render(chat.Input{Messages: messages, Tools: o.Tools, Vars: o.Vars, AddGenerationPrompt: true})
	if err != nil {
		return "", fmt.Errorf("runner: %w", err)
	}
	return text, nil
}

// chatTemplate loads the model directory's chat templates.
func (r *Runner) chatTemplate(name string, tools bool) (*chat.Template, error) {
	set, err := chat.Load(r.dir)
	if err != nil {
		return nil, fmt.Errorf("runner: %w", err)
	}
	t, err := set.Template(name, tools)
	if err != nil {
		return nil, fmt.Errorf("runner: %w", err)
	}
	return t, nil
}

// EndOfTurnIDs are the tokens that end an assistant turn: the tokens every
// generation stops at (see GenerateOptions.StopAtEOS): the tokenizer's
// eos_token and generation_config.json's eos_token_id (a list for many
// instruct models), the ids transformers' generate stops at.
func (r *Runner) EndOfTurnIDs() ([]int, error) {
	return slices.Clone(r.eosIDs), nil
}

// stopIDs are the ids generation stops at: the tokenizer's eos_token, then
// generation_config.json's eos_token_id or, when that file does not set it,
// config.json's (transformers derives the generation config from the model
// config then).
func stopIDs(dir string, tokEOS int, cfg model.Config) ([]int, error) {
	gen, found, err := chat.GenerationEOSIDs(dir)
	if err != nil {
		return nil, err
	}
	if !found {
		gen = cfg.EOSIDs()
	}
	ids := []int{tokEOS}
	for _, id := range gen {
		if !slices.Contains(ids, id) {
			ids = append(ids, id)
		}
	}
	return ids, nil
}

// Chat renders messages with the model's chat template and generates the
// assistant's reply, stopping at the end-of-turn token (EndOfTurnIDs), which
// is not part of the returned text.
func (r *Runner) Chat(ctx context.Context, messages []Message, o ChatOptions) (string, error) {
	return r.ChatStream(ctx, messages, o, nil)
}

// ChatStream is Chat calling onText with each new piece of the reply as soon
// as it decodes to whole characters (nil: no streaming). Returning false from
// onText stops generation.
func (r *Runner) ChatStream(ctx context.Context, messages []Message, o ChatOptions, onText func(piece string) bool) (string, error) {
	prompt, err := r.ChatPrompt(messages, o)
	if err != nil {
		return "", err
	}
	stops, err := r.EndOfTurnIDs()
	if err != nil {
		return "", err
	}
	g := o.GenerateOptions
	g.StopTokenIDs = append(slices.Clone(g.StopTokenIDs), stops...)
	var newIDs []int
	sent := 0
	cb := func(_, id int) bool {
		if slices.Contains(g.StopTokenIDs, id) || onText == nil {
			return true
		}
		newIDs = append(newIDs, id)
		text := r.tok.Decode(newIDs, true)
		// Hold back a trailing partial character (decoded as U+FFFD).
		if strings.HasSuffix(text, string(utf8.RuneError)) || len(text) <= sent {
			return true
		}
		piece := text[sent:]
		sent = len(text)
		return onText(piece)
	}
	// The rendered text is encoded as apply_chat_template(tokenize=True) does:
	// the template wrote the special tokens it wants, none are added on top.
	maxIn, err := r.maxInput(g)
	if err != nil {
		return "", err
	}
	promptIDs := tokenizer.Truncate(r.tok.Encode(prompt), maxIn, tokenizer.Left)
	gs, err := r.generateIDs(ctx, [][]int{promptIDs}, g, cb)
	if err != nil {
		return "", err
	}
	ids := gs[0].NewIDs
	if n := len(ids); n > 0 && slices.Contains(g.StopTokenIDs, ids[n-1]) {
		ids = ids[:n-1]
	}
	if onText != nil {
		// What was streamed: the plain decode (see InferStream).
		return r.tok.Decode(ids, true), nil
	}
	text := r.tok.DecodeTransformers(ids, true)
	if gs[0].Reason == generate.StopString {
		text = cutAtStop(text, g.StopStrings)
	}
	return text, nil
}
