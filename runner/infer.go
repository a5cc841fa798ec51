package runner

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/golamini/golamini/internal/generate"
	"github.com/golamini/golamini/internal/model"
	"github.com/golamini/golamini/internal/tokenizer"
)

// GenerateOptions control text generation.
type GenerateOptions struct {
	// MaxNewTokens is the most tokens generated per prompt (default 100,
	// as the course's inference helper).
	MaxNewTokens int
	// MaxInputTokens truncates long prompts from the left (default 1000,
	// as the course; 0 = the model's context minus MaxNewTokens).
	MaxInputTokens int
	// Temperature 0 is greedy decoding; > 0 samples.
	Temperature float64
	// TopK keeps the K most likely tokens when sampling (0 = off).
	TopK int
	// TopP is nucleus sampling's probability mass (1 = off).
	TopP float64
	// RepetitionPenalty > 1 discourages repeating tokens (1 = off).
	RepetitionPenalty float64
	// StopAtEOS ends generation at the end-of-text token (default true): the
	// tokenizer's eos_token and every eos_token_id of generation_config.json
	// (or config.json), as transformers' generate stops (see EndOfTurnIDs).
	StopAtEOS bool
	// StopStrings end generation when the output contains one; the output
	// is cut before it.
	StopStrings []string
	// StopTokenIDs end generation when generated, like EOS (Chat sets them
	// to the model's end-of-turn tokens).
	StopTokenIDs []int
	// Seed for sampling; the same seed gives the same text. 0 uses the
	// runner's Options.Seed.
	Seed uint64
}

// DefaultGenerateOptions is greedy decoding of up to 100 new tokens from a
// prompt of at most 1000 tokens, stopping at EOS.
func DefaultGenerateOptions() GenerateOptions {
	return GenerateOptions{MaxNewTokens: 100, MaxInputTokens: 1000, TopP: 1, RepetitionPenalty: 1, StopAtEOS: true}
}

// Generation is the result of one prompt.
type Generation struct {
	PromptIDs []int  `json:"prompt_ids"` // the prompt's tokens as given to the model (after truncation)
	NewIDs    []int  `json:"new_ids"`    // generated tokens (EOS included if generated)
	Text      string `json:"text"`       // decoded new tokens as transformers decodes them (special tokens skipped, its clean-up of spaces when the tokenizer config asks), cut at a stop string
	Reason    string `json:"-"`          // why it stopped: length, eos, stop or callback
}

// Infer continues prompt with greedy decoding (DefaultGenerateOptions) and
// returns only the new text. After Train it uses the trained weights.
// It is InferContext without a deadline.
func (r *Runner) Infer(prompt string) (string, error) {
	return r.InferContext(context.Background(), prompt)
}

// InferContext is Infer with a context: a call waiting behind other tensor
// work (a training run) or generating gives up when ctx ends.
//
// Errors: ErrCancelled (ctx ended; context.Canceled or
// context.DeadlineExceeded match too), ErrClosed, ErrInternal.
func (r *Runner) InferContext(ctx context.Context, prompt string) (string, error) {
	g, err := r.Generate(ctx, []string{prompt}, DefaultGenerateOptions())
	if err != nil {
		return "", err
	}
	return g[0].Text, nil
}

// InferBatch continues several prompts in one left-padded batch; each gets
// what it would get alone. Errors as InferContext.
func (r *Runner) InferBatch(ctx context.Context, prompts []string, o GenerateOptions) ([]string, error) {
	gs, err := r.Generate(ctx, prompts, o)
	if err != nil {
		return nil, err
	}
	out := make([]string, len(gs))
	for i, g := range gs {
		out[i] = g.Text
	}
	return out, nil
}

// InferStream generates for one prompt and calls onText with each new piece
// of text as soon as it decodes to whole characters. Returning false from
// onText stops generation. It returns the pieces joined: the text up to (not
// including) the first stop string, which is never sent (text that could be
// the start of a stop string is held back until it is known not to be).
// Streamed text is the plain byte-level decode: transformers' optional
// clean-up of spaces before punctuation could rewrite text already sent, so
// it is not applied. Errors as InferContext.
func (r *Runner) InferStream(ctx context.Context, prompt string, o GenerateOptions, onText func(piece string) bool) (string, error) {
	var newIDs []int
	sent := 0
	send := func(text string) bool {
		if len(text) <= sent {
			return true
		}
		piece := text[sent:]
		sent = len(text)
		return onText(piece)
	}
	cb := func(row, id int) bool {
		newIDs = append(newIDs, id)
		text := r.tok.Decode(newIDs, true)
		// Hold back a trailing partial character (decoded as U+FFFD).
		if strings.HasSuffix(text, string(utf8.RuneError)) {
			return true
		}
		text = cutAtStop(text, o.StopStrings)
		return send(text[:len(text)-stopPrefixLen(text, o.StopStrings)])
	}
	gs, err := r.generate(ctx, []string{prompt}, o, cb)
	if err != nil {
		return "", err
	}
	final := cutAtStop(r.tok.Decode(gs[0].NewIDs, true), o.StopStrings)
	if gs[0].Reason != generate.StopCallback && len(final) >= sent {
		send(final)
	}
	return final[:min(sent, len(final))], nil
}

// stopPrefixLen is the length of the longest end of text that is the start
// of a stop string (so it may still become one).
func stopPrefixLen(text string, stops []string) int {
	best := 0
	for _, s := range stops {
		for n := min(len(s)-1, len(text)); n > best; n-- {
			if strings.HasSuffix(text, s[:n]) {
				best = n
				break
			}
		}
	}
	return best
}

// Generate continues prompts and returns ids and text for each. Errors as
// InferContext.
func (r *Runner) Generate(ctx context.Context, prompts []string, o GenerateOptions) ([]Generation, error) {
	return r.generate(ctx, prompts, o, nil)
}

// generate runs prompts through the runner's model.
func (r *Runner) generate(ctx context.Context, prompts []string, o GenerateOptions, cb generate.Callback) ([]Generation, error) {
	var out []Generation
	err := r.do(ctx, func(ctx context.Context, m *model.Model) error {
		var err error
		out, err = r.generateWith(ctx, m, prompts, o, cb)
		return err
	})
	if err != nil && out == nil {
		return nil, err
	}
	return out, err
}

// generateWith is the one generation path (Generate, InferStream and the
// answers of Evaluate, base model included): prompt truncation, options,
// stop strings and decoding. It runs on the torch worker with model m.
func (r *Runner) generateWith(ctx context.Context, m *model.Model, prompts []string, o GenerateOptions, cb generate.Callback) ([]Generation, error) {
	if len(prompts) == 0 {
		return nil, fmt.Errorf("runner: no prompts")
	}
	maxIn, err := r.maxInput(o)
	if err != nil {
		return nil, err
	}
	ids := make([][]int, len(prompts))
	for i, p := range prompts {
		// The special tokens transformers' AutoTokenizer adds (Llama's <s>)
		// are kept when a long prompt is cut from the left.
		ids[i] = r.tok.EncodeWithSpecialTokensTruncated(p, maxIn, tokenizer.Left)
	}
	return r.generateIDsWith(ctx, m, ids, o, cb)
}

// maxInput is the most prompt tokens o leaves room for.
func (r *Runner) maxInput(o GenerateOptions) (int, error) {
	ctxLen := r.cfg.MaxPositionEmbeddings
	if o.MaxNewTokens >= ctxLen {
		return 0, fmt.Errorf("runner: max new tokens %d must be below the model's context of %d", o.MaxNewTokens, ctxLen)
	}
	maxIn := ctxLen - o.MaxNewTokens
	if o.MaxInputTokens > 0 && o.MaxInputTokens < maxIn {
		maxIn = o.MaxInputTokens
	}
	return maxIn, nil
}

// generateIDs continues prompts given as token ids (at most maxInput each)
// with the runner's model.
func (r *Runner) generateIDs(ctx context.Context, ids [][]int, o GenerateOptions, cb generate.Callback) ([]Generation, error) {
	var out []Generation
	err := r.do(ctx, func(ctx context.Context, m *model.Model) error {
		var err error
		out, err = r.generateIDsWith(ctx, m, ids, o, cb)
		return err
	})
	if err != nil && out == nil {
		return nil, err
	}
	return out, err
}

// generateIDsWith is generateIDs with model m, on the torch worker.
func (r *Runner) generateIDsWith(ctx context.Context, m *model.Model, ids [][]int, o GenerateOptions, cb generate.Callback) ([]Generation, error) {
	for i := range ids {
		if len(ids[i]) == 0 {
			ids[i] = []int{r.tok.EOSID()} // an empty prompt starts from end-of-text, like GPT-2 style models do
		}
	}
	go_ := generate.Options{
		MaxNewTokens: o.MaxNewTokens, Temperature: o.Temperature, TopK: o.TopK, TopP: o.TopP,
		RepetitionPenalty: o.RepetitionPenalty, StopAtEOS: o.StopAtEOS, EOSID: r.tok.EOSID(),
		StopStrings: o.StopStrings, StopIDs: o.StopTokenIDs, Seed: o.Seed, UseCache: true,
	}
	if o.StopAtEOS {
		// Models such as Llama 3 instruct list several end ids.
		go_.StopIDs = append(slices.Clone(o.StopTokenIDs), r.eosIDs...)
	}
	if go_.Seed == 0 {
		go_.Seed = r.opts.Seed
	}
	if len(o.StopStrings) > 0 {
		go_.Decode = func(ids []int) string { return r.tok.Decode(ids, true) }
	}
	res, err := generate.Generate(ctx, m, ids, go_, cb)
	if err != nil && res == nil {
		return nil, fmt.Errorf("runner: generate: %w", err)
	}
	out := make([]Generation, len(ids))
	for i, rr := range res {
		text := r.tok.DecodeTransformers(rr.NewIDs, true)
		if rr.Reason == generate.StopString {
			text = cutAtStop(text, o.StopStrings)
		}
		out[i] = Generation{PromptIDs: ids[i], NewIDs: rr.NewIDs, Text: text, Reason: rr.Reason}
	}
	if err != nil {
		return out, fmt.Errorf("runner: generate: %w", err)
	}
	return out, nil
}

func cutAtStop(text string, stops []string) string {
	cut := len(text)
	for _, s := range stops {
		if s == "" {
			continue
		}
		if i := strings.Index(text, s); i >= 0 && i < cut {
			cut = i
		}
	}
	return text[:cut]
}
