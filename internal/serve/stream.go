package serve

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
)

// sse writes server-sent events as OpenAI does: "data: {json}\n\n" per
// chunk and "data: [DONE]\n\n" at the end.
type sse struct {
	w   http.ResponseWriter
	rc  *http.ResponseController
	err error
}

func (s *sse) send(v any) {
	if s.err != nil {
		return
	}
	b, err := json.Marshal(v)
	if err != nil {
		s.err = err
		return
	}
	if _, s.err = fmt.Fprintf(s.w, "data: %s\n\n", b); s.err == nil {
		s.err = s.rc.Flush()
	}
}

func (s *sse) done() {
	if s.err == nil {
		if _, s.err = fmt.Fprint(s.w, "data: [DONE]\n\n"); s.err == nil {
			s.err = s.rc.Flush()
		}
	}
}

// stream sends the jobs' events as chunks while they come.
func (s *Server) stream(ctx context.Context, w http.ResponseWriter, jobs []*Job, p *plan, chat bool, id string, created int64, states []choiceState) {
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache")
	h.Set("Connection", "keep-alive")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	out := &sse{w: w, rc: http.NewResponseController(w)}
	n := p.n
	chatChunk := func(c chatChoice) chatResponse {
		return chatResponse{ID: id, Object: "chat.completion.chunk", Created: created, Model: p.model, Choices: []chatChoice{c}}
	}
	textChunk := func(c completionChoice) completionResponse {
		return completionResponse{ID: id, Object: "text_completion", Created: created, Model: p.model, Choices: []completionChoice{c}}
	}
	if chat {
		empty := ""
		for i := range states {
			out.send(chatChunk(chatChoice{Index: i, Delta: &chatMessageOut{Role: "assistant", Content: &empty}}))
		}
	}
	offsets := make([]int, len(states))
	var usage Usage
	for t := range fanIn(ctx, jobs) {
		ev := t.ev
		if ev.Err != nil {
			if ctx.Err() == nil {
				out.send(map[string]*apiError{"error": {Message: fmt.Sprintf("generation failed: %v", ev.Err), Type: "server_error"}})
			}
			return
		}
		if ev.Done {
			usage.PromptTokens += ev.Usage.PromptTokens
			usage.CompletionTokens += ev.Usage.CompletionTokens
			usage.TotalTokens += ev.Usage.TotalTokens
			continue
		}
		i := t.job*n + ev.Choice
		st := &states[i]
		if ev.Token != nil {
			st.pendingT = append(st.pendingT, ev.Token)
		}
		var reason *string
		if ev.Finish != "" {
			r := ev.Finish
			reason = &r
		}
		if ev.Text == "" && reason == nil {
			continue // text held back (a partial character or a possible stop string); its tokens go with the next piece
		}
		if chat {
			c := chatChoice{Index: i, FinishReason: reason, Delta: &chatMessageOut{}}
			if ev.Text != "" {
				txt := ev.Text
				c.Delta.Content = &txt
			}
			if p.logprob >= 0 && len(st.pendingT) > 0 {
				c.Logprobs = &chatLogprobs{Content: chatLogprobEntries(st.pendingT)}
			}
			out.send(chatChunk(c))
		} else {
			c := completionChoice{Index: i, Text: ev.Text, FinishReason: reason}
			if p.logprob >= 0 {
				c.Logprobs = completionLogprobEntries(st.pendingT, offsets[i])
			}
			offsets[i] += len(ev.Text)
			out.send(textChunk(c))
		}
		st.pendingT = st.pendingT[:0]
		if out.err != nil {
			return // the client went away; ctx ends and the engine frees the rows
		}
	}
	if ctx.Err() != nil {
		return
	}
	if p.usage {
		if chat {
			out.send(chatResponse{ID: id, Object: "chat.completion.chunk", Created: created, Model: p.model, Choices: []chatChoice{}, Usage: &usage})
		} else {
			out.send(completionResponse{ID: id, Object: "text_completion", Created: created, Model: p.model, Choices: []completionChoice{}, Usage: &usage})
		}
	}
	out.done()
}
