package runner

import (
	"context"
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/golamini/golamini/internal/data"
	"github.com/golamini/golamini/internal/model"
	"github.com/golamini/golamini/internal/tokenizer"
	"github.com/golamini/golamini/internal/train"
)

// EvaluateOptions control Evaluate.
type EvaluateOptions struct {
	Data DataOptions // the split and processing; use the ones Train used
	// MaxRows caps how many held-out rows get generated answers (0 = all).
	MaxRows int
	// Generate controls the answers (default: greedy, 100 new tokens).
	Generate GenerateOptions
	// EvalBatchSize for the loss (default 8).
	EvalBatchSize int
	// CompareBase also generates with the base (untrained) weights.
	CompareBase bool
	// TrainingRows evaluates the training side of the split instead of the
	// held-out side (how well the model reproduces what it was taught).
	TrainingRows bool
}

// DefaultEvaluateOptions evaluates the default held-out split, all rows,
// comparing with the base model.
func DefaultEvaluateOptions() EvaluateOptions {
	return EvaluateOptions{Data: DefaultDataOptions(), Generate: DefaultGenerateOptions(), EvalBatchSize: 8, CompareBase: true}
}

// EvalRow is one held-out question with the expected, base and trained answers.
type EvalRow struct {
	Input    string `json:"input"`
	Expected string `json:"expected"`
	Base     string `json:"base,omitempty"`
	Trained  string `json:"trained"`
	Match    bool   `json:"exact_match"`
}

// EvalReport is Lamini's evaluate(): loss and perplexity on the held-out
// split, exact match (answers equal after trimming spaces), and each
// question with the base and trained answers side by side.
type EvalReport struct {
	Loss           float64   `json:"eval_loss"`
	Perplexity     float64   `json:"perplexity"`
	ExactMatch     float64   `json:"exact_match"` // share of rows, 0..1
	BaseExactMatch float64   `json:"base_exact_match"`
	Rows           []EvalRow `json:"rows"`
	HeldOut        int       `json:"held_out"` // rows evaluated
}

// Evaluate measures the current (trained, after Train) model on the
// held-out split of the loaded data.
//
// Errors: ErrNoData, ErrBadData, ErrCancelled, ErrClosed, ErrBadCheckpoint
// (the base weights, with CompareBase), ErrInternal.
func (r *Runner) Evaluate(ctx context.Context) (EvalReport, error) {
	return r.EvaluateWith(ctx, DefaultEvaluateOptions())
}

// EvaluateWith is Evaluate with options.
func (r *Runner) EvaluateWith(ctx context.Context, o EvaluateOptions) (EvalReport, error) {
	if o.Data.EvalFraction <= 0 && !o.TrainingRows {
		return EvalReport{}, fmt.Errorf("runner: evaluate needs a held-out split (EvalFraction > 0)")
	}
	trainEx, evalEx, err := r.split(o.Data)
	if err != nil {
		return EvalReport{}, err
	}
	if o.TrainingRows {
		evalEx = trainEx
	}
	// With Data.ChatTemplate the pairs are measured in the chat format they
	// were trained in: the loss on the rendered turns, and answers generated
	// after the template's generation prompt up to the end-of-turn token.
	var cf *chatFormat
	var evalRows []data.Tokenized
	if o.Data.ChatTemplate {
		if cf, err = r.chatTraining(o.Data); err != nil {
			return EvalReport{}, err
		}
		if evalRows, err = cf.tokenize(data.ChatFromPairs(evalEx)); err != nil {
			return EvalReport{}, err
		}
		stops, err := r.EndOfTurnIDs()
		if err != nil {
			return EvalReport{}, err
		}
		o.Generate.StopTokenIDs = append(slices.Clone(o.Generate.StopTokenIDs), stops...)
	} else if evalRows, err = data.Tokenize(evalEx, tokenizer.SpecialEncoder{Tokenizer: r.tok}, r.tokenizeOptions(o.Data)); err != nil {
		return EvalReport{}, classify(fmt.Errorf("runner: %w", err))
	}
	if o.EvalBatchSize < 1 {
		o.EvalBatchSize = 8
	}
	rep := EvalReport{HeldOut: len(evalEx)}
	err = r.do(ctx, func(ctx context.Context, m *model.Model) error {
		var err error
		rep.Loss, err = train.Evaluate(ctx, m, evalRows, r.padID(), o.EvalBatchSize)
		return err
	})
	if err != nil {
		return rep, fmt.Errorf("runner: evaluate: %w", err)
	}
	rep.Perplexity = math.Exp(rep.Loss)
	n := len(evalEx)
	if o.MaxRows > 0 && o.MaxRows < n {
		n = o.MaxRows
	}
	prompts := make([]string, n)
	for i := range prompts {
		if cf == nil {
			prompts[i] = r.tokenizeOptions(o.Data).Prompt(evalEx[i].Input)
		} else if prompts[i], err = cf.prompt(evalEx[i].Input); err != nil {
			return rep, err
		}
	}
	var trained, base []string
	err = r.do(ctx, func(ctx context.Context, m *model.Model) error {
		var err error
		trained, err = r.answers(ctx, m, prompts, o.Generate, cf != nil)
		return err
	})
	if err != nil {
		return rep, err
	}
	if o.CompareBase {
		if base, err = r.baseAnswers(ctx, prompts, o.Generate, cf != nil); err != nil {
			return rep, err
		}
	}
	var hits, baseHits int
	for i := 0; i < n; i++ {
		row := EvalRow{Input: evalEx[i].Input, Expected: evalEx[i].Output, Trained: trained[i]}
		row.Match = strings.TrimSpace(row.Trained) == strings.TrimSpace(row.Expected)
		if row.Match {
			hits++
		}
		if base != nil {
			row.Base = base[i]
			if strings.TrimSpace(row.Base) == strings.TrimSpace(row.Expected) {
				baseHits++
			}
		}
		rep.Rows = append(rep.Rows, row)
	}
	if n > 0 {
		rep.ExactMatch = float64(hits) / float64(n)
		rep.BaseExactMatch = float64(baseHits) / float64(n)
	}
	return rep, nil
}

// answers generates for each prompt one at a time with model m, through
// the same path as Generate (truncation, options, stop strings). Rendered
// chat prompts (chat true) are encoded as they are, as
// apply_chat_template(tokenize=True) does: the template wrote the special
// tokens it wants.
func (r *Runner) answers(ctx context.Context, m *model.Model, prompts []string, o GenerateOptions, chat bool) ([]string, error) {
	maxIn, err := r.maxInput(o)
	if err != nil {
		return nil, err
	}
	out := make([]string, len(prompts))
	for i, p := range prompts {
		var g []Generation
		var err error
		if chat {
			ids := tokenizer.Truncate(r.tok.Encode(p), maxIn, tokenizer.Left)
			g, err = r.generateIDsWith(ctx, m, [][]int{ids}, o, nil)
		} else {
			g, err = r.generateWith(ctx, m, []string{p}, o, nil)
		}
		if err != nil {
			return nil, err
		}
		out[i] = g[0].Text
	}
	return out, nil
}

// baseAnswers loads the base weights from the model directory beside the
// trained ones for the time of the comparison.
func (r *Runner) baseAnswers(ctx context.Context, prompts []string, o GenerateOptions, chat bool) ([]string, error) {
	var out []string
	err := r.do(ctx, func(ctx context.Context, _ *model.Model) error {
		base, err := model.Load(ctx, r.dir, model.LoadOptions{Device: r.device, DType: r.dtype})
		if err != nil {
			return err
		}
		defer base.Free()
		out, err = r.answers(ctx, base, prompts, o, chat)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("runner: base model answers: %w", classify(err))
	}
	return out, nil
}
