package runner

import (
	"context"
	"fmt"

	"github.com/golamini/golamini/internal/model"
	"github.com/golamini/golamini/internal/torch"
)

// TokenLogProbs returns log p(ids[i+1] | ids[0..i]) for each position: one
// value fewer than ids. The model reads all ids but the last, so ids may
// hold up to the model's context plus one.
//
// Errors: ErrCancelled, ErrClosed, ErrInternal.
func (r *Runner) TokenLogProbs(ctx context.Context, ids []int) ([]float64, error) {
	lp, _, err := r.scoreIDs(ctx, ids)
	return lp, err
}

// ScoreText encodes text (no special tokens added, as HF's GPT-NeoX
// tokenizer) and returns its ids and per-token log-probabilities.
func (r *Runner) ScoreText(ctx context.Context, text string) ([]int, []float64, error) {
	ids := r.tok.Encode(text)
	lp, _, err := r.scoreIDs(ctx, ids)
	return ids, lp, err
}

// LogLikelihood returns log p(continuation | context) summed over the
// continuation's tokens, and whether greedy decoding would produce exactly
// those tokens — what lm-evaluation-harness computes for multiple-choice
// tasks such as ARC. As the harness does, context and continuation are
// encoded separately (a space at the end of context moves to the
// continuation) and the joined ids are cut from the left to the context
// size plus one (the last id is only predicted, never read).
func (r *Runner) LogLikelihood(ctx context.Context, context_, continuation string) (float64, bool, error) {
	if continuation == "" {
		return 0, false, fmt.Errorf("runner: empty continuation")
	}
	for len(context_) > 0 && context_[len(context_)-1] == ' ' {
		context_ = context_[:len(context_)-1]
		continuation = " " + continuation
	}
	ctxIDs := r.tok.Encode(context_)
	contIDs := r.tok.Encode(continuation)
	if len(ctxIDs) == 0 {
		ctxIDs = []int{r.tok.EOSID()}
	}
	all := append(append([]int{}, ctxIDs...), contIDs...)
	if n := r.cfg.MaxPositionEmbeddings + 1; len(all) > n {
		all = all[len(all)-n:]
	}
	if len(contIDs) >= len(all) {
		return 0, false, fmt.Errorf("runner: continuation of %d tokens does not fit the context", len(contIDs))
	}
	lp, greedy, err := r.scoreIDs(ctx, all)
	if err != nil {
		return 0, false, err
	}
	var sum float64
	isGreedy := true
	for i := len(lp) - len(contIDs); i < len(lp); i++ {
		sum += lp[i]
		if greedy[i] != all[i+1] {
			isGreedy = false
		}
	}
	return sum, isGreedy, nil
}

// scoreIDs returns per-position log-probabilities of the next id and the
// argmax id at each position: the model reads ids[:n-1] and predicts
// ids[1:].
func (r *Runner) scoreIDs(ctx context.Context, ids []int) ([]float64, []int, error) {
	if err := r.checkOpen(); err != nil {
		return nil, nil, err
	}
	if len(ids) < 2 {
		return []float64{}, []int{}, nil
	}
	if n := r.cfg.MaxPositionEmbeddings; len(ids)-1 > n {
		return nil, nil, fmt.Errorf("runner: %d tokens exceed the model's context of %d (plus the one predicted)", len(ids), n)
	}
	V := r.cfg.VocabSize
	for _, id := range ids {
		if id < 0 || id >= V {
			return nil, nil, fmt.Errorf("runner: token id %d outside the vocabulary [0, %d)", id, V)
		}
	}
	var lp []float64
	var am []int
	err := r.do(ctx, func(ctx context.Context, m *model.Model) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		defer torch.NoGrad()()
		s := torch.NewScope()
		defer s.Close()
		T := int64(len(ids) - 1) // positions read
		in := make([]int64, T)
		next := make([]int64, T)
		for i := range in {
			in[i], next[i] = int64(ids[i]), int64(ids[i+1])
		}
		x := s.Int64(in, 1, T)
		logits := m.Logits(s, m.Forward(s, x, model.Pass{})) // [1, T, V]
		logp := s.LogSoftmax(logits, 2, torch.Float32)       // [1, T, V]
		tgt := s.Int64(next, 1, T, 1)                        // [1, T, 1]
		if m.Device != torch.CPU {
			tgt = s.To(tgt, torch.Int64, m.Device)
		}
		picked := s.Gather(logp, 2, tgt) // [1, T, 1]
		best := s.Argmax(logp, 2, false) // [1, T]
		if err := s.Err(); err != nil {
			return err
		}
		v, err := picked.Float32s()
		if err != nil {
			return err
		}
		b, err := best.Int64s()
		if err != nil {
			return err
		}
		lp, am = make([]float64, len(v)), make([]int, len(b))
		for i := range v {
			lp[i], am[i] = float64(v[i]), int(b[i])
		}
		return nil
	})
	if err != nil {
		return nil, nil, fmt.Errorf("runner: score: %w", err)
	}
	return lp, am, nil
}
