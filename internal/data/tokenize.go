package data

import (
	"errors"
	"fmt"
	"strings"
)

// IgnoreIndex is the label value the loss skips (PyTorch's ignore_index).
const IgnoreIndex = -100

// InputPlaceholder is where a prompt template takes the example's input.
const InputPlaceholder = "{input}"

// Encoder turns text into token ids (without adding special tokens) and
// names the end-of-sequence id. The Pythia tokenizer satisfies it.
type Encoder interface {
	Encode(text string) []int
	EOSID() int
}

// TokenizeOptions controls Tokenize.
type TokenizeOptions struct {
	// PromptTemplate, when set, must contain "{input}" and becomes the
	// prompt with the input put in its place (for example
	// "### Question:\n{input}\n\n### Answer:"); the text is then
	// prompt + output. Empty: the text is input + output, the course's
	// plain concatenation.
	PromptTemplate string
	// AppendEOS appends the encoder's EOS id after the text, so the model
	// learns to stop. (The course's lab does not; HF's recipe for causal
	// LM fine-tuning usually does.)
	AppendEOS bool
	// MaxLength caps the tokens per row. 0 means min(longest row, context
	// length): only ContextLength truncates.
	MaxLength int
	// ContextLength is the model's context (2048 for Pythia); 0 means no
	// limit from the model.
	ContextLength int
	// TruncateLeft drops tokens from the start of a row that is too long
	// (the course's truncation_side="left"), keeping the answer and EOS;
	// false drops them from the end.
	TruncateLeft bool
	// AnswerOnlyLoss sets the labels of prompt tokens to -100 so only the
	// output (and EOS) is learned. A token that straddles the prompt/output
	// boundary counts as output (see Tokenize).
	AnswerOnlyLoss bool
}

// DefaultTokenizeOptions returns the course's settings plus EOS: no
// template, EOS appended, no max length beyond Pythia's 2048-token
// context, truncation from the left, loss on every token.
func DefaultTokenizeOptions() TokenizeOptions {
	return TokenizeOptions{AppendEOS: true, ContextLength: 2048, TruncateLeft: true}
}

// Limit returns the effective token cap per row (0 = none).
func (o TokenizeOptions) Limit() int {
	limit := o.ContextLength
	if o.MaxLength > 0 && (limit == 0 || o.MaxLength < limit) {
		limit = o.MaxLength
	}
	return limit
}

// Prompt returns the prompt text for an input under the template.
func (o TokenizeOptions) Prompt(input string) string {
	if o.PromptTemplate == "" {
		return input
	}
	return strings.ReplaceAll(o.PromptTemplate, InputPlaceholder, input)
}

func (o TokenizeOptions) validate() error {
	if o.MaxLength < 0 {
		return fmt.Errorf("max length %d is negative", o.MaxLength)
	}
	if o.ContextLength < 0 {
		return fmt.Errorf("context length %d is negative", o.ContextLength)
	}
	if o.PromptTemplate != "" && !strings.Contains(o.PromptTemplate, InputPlaceholder) {
		return fmt.Errorf("prompt template %q lacks the %s placeholder", o.PromptTemplate, InputPlaceholder)
	}
	return nil
}

// Tokenized is one training row. Labels[i] is InputIDs[i] or -100 (not
// learned); the shift to next-token targets happens in the loss.
type Tokenized struct {
	InputIDs []int
	Labels   []int
	// Truncated is the number of tokens truncation removed.
	Truncated int
}

// ErrNoTokens: a row encodes to no tokens at all.
var ErrNoTokens = errors.New("row encodes to no tokens")

// Tokenize encodes examples for causal-LM training, like the course's
// tokenize_function: text = prompt + output, encoded as one string (so
// ids equal the tokenizer's on the whole text), then EOS if asked, then
// truncation to opts.Limit() from the left (or right). Labels copy the ids;
// with AnswerOnlyLoss the first k labels are -100, where k is the length of
// the longest common prefix of encode(prompt) and the row's ids (before
// truncation; truncation from the left removes masked tokens first).
// Errors name the example index and row.
func Tokenize(examples []Example, enc Encoder, opts TokenizeOptions) ([]Tokenized, error) {
	if enc == nil {
		return nil, errors.New("data: tokenize: nil encoder")
	}
	if err := opts.validate(); err != nil {
		return nil, fmt.Errorf("data: tokenize: %w", err)
	}
	limit := opts.Limit()
	out := make([]Tokenized, len(examples))
	for i, ex := range examples {
		prompt := opts.Prompt(ex.Input)
		ids := append([]int(nil), enc.Encode(prompt+ex.Output)...)
		if opts.AppendEOS {
			ids = append(ids, enc.EOSID())
		}
		if len(ids) == 0 {
			return nil, fmt.Errorf("data: tokenize example %d (row %d): %w", i, ex.Row, ErrNoTokens)
		}
		masked := 0
		if opts.AnswerOnlyLoss {
			masked = commonPrefix(enc.Encode(prompt), ids)
		}
		cut := 0
		if limit > 0 && len(ids) > limit {
			cut = len(ids) - limit
			if opts.TruncateLeft {
				ids = ids[cut:]
				masked = max(0, masked-cut)
			} else {
				ids = ids[:limit]
				masked = min(masked, limit)
			}
		}
		labels := make([]int, len(ids))
		for j, id := range ids {
			if j < masked {
				labels[j] = IgnoreIndex
			} else {
				labels[j] = id
			}
		}
		out[i] = Tokenized{InputIDs: ids, Labels: labels, Truncated: cut}
	}
	return out, nil
}

func commonPrefix(a, b []int) int {
	n := 0
	for n < len(a) && n < len(b) && a[n] == b[n] {
		n++
	}
	return n
}

// Lengths returns each row's token count, for the Sampler's length grouping.
func Lengths(rows []Tokenized) []int {
	out := make([]int, len(rows))
	for i, r := range rows {
		out[i] = len(r.InputIDs)
	}
	return out
}
