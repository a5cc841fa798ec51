package serve

import (
	"context"
	"time"

	"github.com/golamini/golamini/internal/constrain"
)

// Request is one generation for the engine: a tokenized prompt and how to
// continue it.
type Request struct {
	// Adapter names the LoRA adapter the request runs with ("" = the base
	// model); EngineOptions.Adapter resolves it.
	Adapter   string
	Prompt    []int
	N         int // choices, each its own sequence in the batch (≥ 1)
	MaxTokens int // per choice (≥ 1)
	// Temperature 0 is greedy; otherwise softmax(logits/T) restricted by
	// TopK (0 = off) and TopP (1 = off).
	Temperature float64
	TopK        int
	TopP        float64
	// Seed of choice i's sampler is Seed+i (choice 0 samples as `golamini
	// infer --seed` does).
	Seed uint64
	// Stop strings end a choice; its text is cut before the stop string.
	Stop []string
	// StopIDs end a choice like EOS (a chat template's end-of-turn tokens).
	StopIDs []int
	// IgnoreEOS keeps generating past the end-of-text token.
	IgnoreEOS bool
	// Logprobs ≥ 0 reports each token's log-probability and that many most
	// likely alternatives; < 0 reports none.
	Logprobs int
	// Constraint masks tokens that cannot continue valid JSON (nil = none).
	Constraint *constrain.Index
	// CleanUp applies the tokenizer's clean-up of spaces to the final text
	// (as `golamini infer` prints it); streamed pieces never get it.
	CleanUp bool
}

// TokenLogprob is one generated token's log-probability under the model
// (log-softmax of its logits, before temperature and constraints).
type TokenLogprob struct {
	ID      int
	Bytes   []byte
	Logprob float32
	Top     []TopLogprob
}

// TopLogprob is an alternative at a position.
type TopLogprob struct {
	ID      int
	Bytes   []byte
	Logprob float32
}

// Event reports progress of one choice, or the end of the job.
type Event struct {
	Choice int
	Text   string        // new text safe to show (whole characters, no possible stop-string start)
	Token  *TokenLogprob // the token this event adds, when logprobs were asked for
	Finish string        // "stop" or "length" when the choice ended
	Final  string        // the choice's whole text, when it ended
	Err    error         // the job failed (the last event)
	Done   bool          // every choice ended (the last event)
	Usage  Usage         // with Done
}

// Usage counts tokens as OpenAI does.
type Usage struct {
	PromptTokens     int `json:"prompt_tokens"`
	CompletionTokens int `json:"completion_tokens"`
	TotalTokens      int `json:"total_tokens"`
}

// Job is a submitted request; read Events until one has Done or Err set
// (the channel is closed after it).
type Job struct {
	req    *Request
	ctx    context.Context
	start  time.Time
	Events chan Event

	completion int // tokens generated over all choices
	open       int // choices not yet finished
	filled     int // prompt tokens prefilled so far
}
