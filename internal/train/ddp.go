package train

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"

	"github.com/rs/zerolog"

	"github.com/golamini/golamini/internal/data"
	"github.com/golamini/golamini/internal/torch"
)

// Data-parallel training (Trainer.Dist), as HF Trainer does it under DDP:
//
//   - The sampler orders batches of per_device × world rows (the global
//     micro-batch); rank r takes the r-th slice of per_device rows of each,
//     so an optimizer step sees exactly the rows one process with batch
//     per_device × world would, in the same order, whatever the world size.
//   - Each step's loss is normalised by the label tokens of the whole step
//     on all ranks (summed before backward), and the gradients are summed
//     across ranks (bucketed all-reduce): the sum is the gradient of the
//     global mean, so clipping sees the global norm and every rank takes
//     the same optimizer step.
//   - Weights are broadcast from rank 0 at the start; a check at start makes
//     sure every rank has the same data, model and arguments.
//   - Rank 0 alone writes checkpoints, trainer_state.json, the final model,
//     the loss curve and info logs; evaluation is sharded and summed.

// world is the number of data-parallel ranks (1 without Dist).
func (r *run) world() int {
	if r.t.Dist == nil {
		return 1
	}
	return r.t.Dist.Size()
}

// isMain reports whether this process writes files and logs.
func (r *run) isMain() bool { return r.t.Dist == nil || r.t.Dist.IsMain() }

// forRank returns the Trainer as this rank runs it: ranks other than 0 log
// warnings only, draw no progress bar and report no log entries.
func (t *Trainer) forRank() *Trainer {
	if t.Dist == nil || t.Dist.IsMain() {
		return t
	}
	c := *t
	c.Log = t.Log.Level(zerolog.WarnLevel).With().Int("rank", t.Dist.Rank()).Logger()
	c.Progress, c.OnLog = nil, nil
	return &c
}

// shard returns this rank's part of a global micro-batch.
func (r *run) shard(idx []int) []int {
	if r.t.Dist == nil {
		return idx
	}
	pd := r.a.PerDeviceTrainBatchSize
	lo := min(len(idx), r.t.Dist.Rank()*pd)
	return idx[lo:min(len(idx), lo+pd)]
}

// globalTokens sums the step's label tokens over the ranks.
func (r *run) globalTokens(local int) (int, error) {
	if r.t.Dist == nil {
		return local, nil
	}
	s, err := r.t.Dist.Sum(float64(local))
	if err != nil {
		return 0, err
	}
	return int(s[0]), nil
}

// reduceStep sums the gradients over the ranks and returns the step's
// global loss sum and real-token count.
func (r *run) reduceStep(lossSum float64, tokens int64) (float64, int64, error) {
	if r.t.Dist == nil {
		return lossSum, tokens, nil
	}
	ps := make([]*torch.Tensor, len(r.params))
	for i, p := range r.params {
		ps[i] = p.Tensor
	}
	if err := r.t.Dist.SumGrads(ps); err != nil {
		return 0, 0, err
	}
	s, err := r.t.Dist.Sum(lossSum, float64(tokens))
	if err != nil {
		return 0, 0, err
	}
	return s[0], int64(s[1]), nil
}

// stopRequested reports ctx's end on any rank, so that all ranks stop at
// the same step (a rank stopping alone would leave the others waiting).
func (r *run) stopRequested(ctx context.Context) (bool, error) {
	stop := ctx.Err() != nil
	if r.t.Dist == nil {
		return stop, nil
	}
	v := 0.0
	if stop {
		v = 1
	}
	m, err := r.t.Dist.Max(v)
	if err != nil {
		return false, err
	}
	return m[0] > 0, nil
}

// ddpStart checks that every rank runs the same job and gives all of them
// rank 0's weights.
func (r *run) ddpStart() error {
	g := r.t.Dist
	if g == nil {
		return nil
	}
	args, err := json.Marshal(r.a)
	if err != nil {
		return err
	}
	cfg, err := json.Marshal(r.t.Model.Config)
	if err != nil {
		return err
	}
	mh := sha256.New()
	mh.Write(cfg)
	fmt.Fprint(mh, r.t.Model.DType)
	ps := make([]*torch.Tensor, len(r.params))
	for i, p := range r.params {
		fmt.Fprint(mh, p.Name, p.Tensor.Shape())
		ps[i] = p.Tensor
	}
	what := map[string]string{
		"training data":   rowsHash(r.t.Train),
		"evaluation data": rowsHash(r.t.Eval),
		"model":           hex.EncodeToString(mh.Sum(nil)),
		"arguments":       hashOf(args),
		"pad token":       fmt.Sprint(r.t.PadID),
		"resumed step":    fmt.Sprint(r.prog.GlobalStep),
	}
	if err := g.Check(what); err != nil {
		return fmt.Errorf("train: %w", err)
	}
	if err := g.Broadcast(ps); err != nil {
		return fmt.Errorf("train: broadcast weights: %w", err)
	}
	r.t.Model.WeightsChanged()
	r.t.Log.Info().Int("world_size", g.Size()).Str("backend", g.Backend()).Int("global_batch", r.a.PerDeviceTrainBatchSize*g.Size()*r.a.GradientAccumulationStep).
		Msg("data-parallel: weights broadcast from rank 0")
	return nil
}

func rowsHash(rows []data.Tokenized) string {
	h := sha256.New()
	var b [8]byte
	for _, row := range rows {
		binary.LittleEndian.PutUint64(b[:], uint64(len(row.InputIDs)))
		h.Write(b[:])
		for i, id := range row.InputIDs {
			binary.LittleEndian.PutUint64(b[:], uint64(int64(id)))
			h.Write(b[:])
			if i < len(row.Labels) {
				binary.LittleEndian.PutUint64(b[:], uint64(int64(row.Labels[i])))
				h.Write(b[:])
			}
		}
	}
	return hex.EncodeToString(h.Sum(nil))
}

func hashOf(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// evalLoss is Evaluate over the evaluation rows, sharded across ranks
// (rank r takes rows r, r+W, …, as torch's DistributedSampler) and summed.
func (r *run) evalLoss() (float64, error) {
	g := r.t.Dist
	if g == nil {
		return Evaluate(r.ctx, r.t.Model, r.t.Eval, r.t.PadID, r.a.PerDeviceEvalBatchSize)
	}
	var mine []data.Tokenized
	for i := g.Rank(); i < len(r.t.Eval); i += g.Size() {
		mine = append(mine, r.t.Eval[i])
	}
	sum, tokens := 0.0, 0
	if len(mine) > 0 {
		var err error
		if sum, tokens, err = evaluateSum(r.ctx, r.t.Model, mine, r.t.PadID, r.a.PerDeviceEvalBatchSize); err != nil {
			return 0, err
		}
	}
	s, err := g.Sum(sum, float64(tokens))
	if err != nil {
		return 0, err
	}
	if s[1] == 0 {
		return math.NaN(), nil
	}
	return s[0] / s[1], nil
}
