package runner

import (
	"encoding/json"
	"errors"
	"fmt"

	"github.com/golamini/golamini/internal/chat"
	"github.com/golamini/golamini/internal/serve"
)

// serveChat renders /v1/chat/completions requests with the model's chat
// template, as Chat does.
type serveChat struct {
	t    *chat.Template
	stop []int
}

func (c serveChat) Render(msgs []serve.ChatMessage, addGenerationPrompt bool) (string, error) {
	ms := make([]chat.Message, len(msgs))
	for i, m := range msgs {
		ms[i] = chat.Message{Role: m.Role, Content: m.Content}
		if m.Name != "" {
			raw, err := json.Marshal(m)
			if err != nil {
				return "", err
			}
			ms[i].Raw = raw
		}
	}
	return c.t.Render(chat.Input{Messages: ms, AddGenerationPrompt: addGenerationPrompt})
}

// Stop is empty: the end-of-turn tokens are special tokens, which the
// decoded text leaves out, so they stop by id (StopIDs).
func (c serveChat) Stop() []string { return nil }

func (c serveChat) StopIDs() []int { return c.stop }

// serveChatTemplate gives the server the model's chat template; nil, nil
// when the model has none.
func (r *Runner) serveChatTemplate() (serve.ChatTemplate, error) {
	t, err := r.chatTemplate("", false)
	if errors.Is(err, chat.ErrNoTemplate) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	stop, err := r.EndOfTurnIDs()
	if err != nil {
		return nil, fmt.Errorf("runner: %w", err)
	}
	return serveChat{t: t, stop: stop}, nil
}
