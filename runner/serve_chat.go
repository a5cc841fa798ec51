package runner

import (
	"github.com/golamini/golamini/internal/chat"
	"github.com/golamini/golamini/internal/serve"
)

// servedChat renders /v1/chat/completions requests with the model's chat
// template, as ChatPrompt does, and ends answers at its end-of-turn tokens.
type servedChat struct {
	t    *chat.Template
	stop []int
}

func (c servedChat) Render(ms []serve.ChatMessage, addGenerationPrompt bool) (string, error) {
	msgs := make([]Message, len(ms))
	for i, m := range ms {
		msgs[i] = Message{Role: m.Role, Content: m.Content}
	}
	return c.t.Render(chat.Input{Messages: msgs, AddGenerationPrompt: addGenerationPrompt})
}

func (c servedChat) Stop() []string { return nil }

func (c servedChat) StopIDs() []int { return c.stop }
