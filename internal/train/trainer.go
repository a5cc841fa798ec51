package train

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"time"

	"github.com/rs/zerolog"

	"github.com/golamini/golamini/internal/data"
	"github.com/golamini/golamini/internal/dist"
	"github.com/golamini/golamini/internal/lora"
	"github.com/golamini/golamini/internal/model"
	"github.com/golamini/golamini/internal/torch"
)

// Trainer fine-tunes Model on Train, evaluating on Eval.
type Trainer struct {
	Args  Args
	Model *model.Model
	Train []data.Tokenized
	Eval  []data.Tokenized // may be empty: no evaluation
	PadID int
	// ModelDir is the directory the model came from; its tokenizer and
	// generation files are copied into checkpoints and the final model.
	ModelDir string
	Log      zerolog.Logger
	// Progress receives a one-line progress bar (use it only for a
	// terminal); nil draws none.
	Progress io.Writer
	// OnLog, if set, sees every log_history entry as it is made.
	OnLog func(LogEntry)
	// Dist, if set, trains data-parallel in this process group (ddp.go):
	// PerDeviceTrainBatchSize rows per rank per micro-batch, gradients
	// summed across ranks, rank 0 writing the files.
	Dist *dist.Group
	// LoRA, when set, trains a new LoRA adapter with this configuration
	// over the frozen model instead of the model itself (see lora.go);
	// empty TargetModules means PEFT's default for the model type.
	LoRA *lora.Config
	// LoRAInit, when set, is a PEFT adapter directory to continue
	// training from (its adapter_config.json defines the adapter).
	LoRAInit string
}

// Result sums up a run.
type Result struct {
	GlobalStep          int
	TrainLoss           float64 // mean of the per-step losses
	EvalLoss            float64 // last evaluation's loss (NaN when none)
	LogHistory          []LogEntry
	BestModelCheckpoint string
	OutputDir           string
	StopReason          string // "max_steps", "epochs", "early_stopping"
	ResumedFrom         string
	// Adapter is the trained LoRA adapter, still attached to the model
	// (nil for full fine-tuning); the caller owns it.
	Adapter *lora.Adapter
}

// ErrCancelled is returned (wrapped) when ctx ends training early; the
// message names the checkpoint that was saved.
var ErrCancelled = errors.New("training cancelled")

// run is one training run's mutable state.
type run struct {
	t            *Trainer
	a            *Args
	ctx          context.Context
	params       []model.NamedTensor
	opt          optimizer
	sampler      *data.Sampler
	padTo        int
	perEpoch     int // micro-batches per epoch
	total        int // optimizer steps
	warmup       int
	prog         progress
	state        TrainerState
	start        time.Time
	tokens       int64 // real tokens since last log, for tokens/s
	logStart     time.Time
	lastEval     float64
	bestStep     int
	lastGradNorm float64
	adapter      *lora.Adapter // LoRA training; nil = full fine-tuning
	adapterKept  bool          // the adapter went to the Result
}

// Run trains. It must run on the torch worker thread (torch.Do).
func (t *Trainer) Run(ctx context.Context) (Result, error) {
	a := t.Args
	if err := a.Validate(); err != nil {
		return Result{}, err
	}
	if len(t.Train) == 0 {
		return Result{}, errors.New("train: no training rows")
	}
	t = t.forRank()
	r := &run{t: t, a: &a, ctx: ctx, params: t.Model.Parameters(), lastEval: math.NaN()}
	if err := r.setupLoRA(); err != nil {
		return Result{}, err
	}
	defer r.endLoRA()
	lengths := make([]int, len(t.Train))
	maxLen := 0
	for i, row := range t.Train {
		lengths[i] = len(row.InputIDs)
		maxLen = max(maxLen, lengths[i])
	}
	if a.PadToMaxLength {
		r.padTo = maxLen
	}
	var err error
	r.sampler, err = data.NewSampler(lengths, data.SamplerOptions{BatchSize: a.PerDeviceTrainBatchSize * r.world(), Shuffle: a.Shuffle, Seed: a.Seed, GroupByLength: a.GroupsByLength()})
	if err != nil {
		return Result{}, fmt.Errorf("train: %w", err)
	}
	r.perEpoch = r.sampler.BatchesPerEpoch()
	stepsPerEpoch := (r.perEpoch + a.GradientAccumulationStep - 1) / a.GradientAccumulationStep
	if a.MaxSteps > 0 {
		r.total = a.MaxSteps
	} else {
		r.total = int(math.Ceil(a.NumTrainEpochs * float64(stepsPerEpoch)))
	}
	r.warmup = warmupSteps(&a, r.total)
	r.state = TrainerState{EvalSteps: a.EvalSteps, LoggingSteps: a.LoggingSteps, MaxSteps: r.total, SaveSteps: a.SaveSteps,
		NumTrainEpochs: int(math.Ceil(float64(r.total) / float64(stepsPerEpoch))), TrainBatchSize: a.PerDeviceTrainBatchSize,
		IsLocalProcessZero: true, IsWorldProcessZero: true, LogHistory: []LogEntry{}}
	r.prog.Scheduler = schedulerState{Type: a.LRSchedulerType, BaseLR: a.LearningRate, Warmup: r.warmup, Total: r.total}
	if r.opt, err = newOptimizer(&a, r.params); err != nil {
		return Result{}, err
	}
	defer r.opt.free()
	if err := os.MkdirAll(a.OutputDir, 0o755); err != nil {
		return Result{}, fmt.Errorf("train: output_dir: %w", err)
	}
	res := Result{OutputDir: a.OutputDir}
	if res.ResumedFrom, err = r.resumeOrReset(); err != nil {
		return Result{}, err
	}
	if err := r.ddpStart(); err != nil {
		return Result{}, err
	}
	// Freed CPU memory goes to the next tensors instead of back to the
	// kernel, which would fault in and zero it again at every step
	// (torch.EnableCPUCache).
	if t.Model.Device == torch.CPU && torch.CPUCacheInfo().LimitBytes == 0 {
		if err := torch.EnableCPUCache(torch.DefaultCPUCacheBytes()); err != nil {
			return Result{}, fmt.Errorf("train: %w", err)
		}
		defer func() { _ = torch.EnableCPUCache(0) }()
	}
	for _, p := range r.params {
		if err := p.Tensor.SetRequiresGrad(true); err != nil {
			return Result{}, err
		}
	}
	defer func() {
		for _, p := range r.params {
			_ = p.Tensor.ZeroGrad()
			_ = p.Tensor.SetRequiresGrad(false)
		}
	}()
	if c := t.Model.Config; c.HiddenDropout > 0 || c.AttentionDropout > 0 {
		t.Log.Warn().Float64("hidden_dropout", c.HiddenDropout).Float64("attention_dropout", c.AttentionDropout).
			Msg("the config asks for dropout, which golamini does not apply: training runs without it (Pythia uses none)")
	}
	t.Log.Info().Int("rows", len(t.Train)).Int("eval_rows", len(t.Eval)).Int("steps", r.total).Int("start_step", r.prog.GlobalStep).
		Int("batch_size", a.PerDeviceTrainBatchSize).Int("grad_accum", a.GradientAccumulationStep).Str("optim", a.Optim).
		Float64("learning_rate", a.LearningRate).Str("schedule", a.LRSchedulerType).Str("output_dir", a.OutputDir).Msg("training")

	r.start = time.Now().Add(-time.Duration(r.prog.ElapsedSeconds * float64(time.Second)))
	r.logStart = time.Now()
	res.StopReason = "max_steps"
	if a.MaxSteps <= 0 {
		res.StopReason = "epochs"
	}
	for r.prog.GlobalStep < r.total {
		if stop, err := r.stopRequested(ctx); err != nil {
			return res, fmt.Errorf("train: step %d: %w", r.prog.GlobalStep+1, err)
		} else if stop {
			err := ctx.Err()
			if err == nil {
				err = errors.New("another rank was stopped")
			}
			path, serr := r.saveCheckpoint()
			if serr != nil {
				return res, fmt.Errorf("train: %w at step %d (%v); saving a checkpoint failed too: %v", ErrCancelled, r.prog.GlobalStep, err, serr)
			}
			return res, fmt.Errorf("train: %w at step %d (%v); checkpoint saved in %s: run again with the same output_dir to resume", ErrCancelled, r.prog.GlobalStep, err, path)
		}
		if err := r.step(); err != nil {
			return res, fmt.Errorf("train: step %d: %w", r.prog.GlobalStep+1, err)
		}
		stop, err := r.afterStep()
		if err != nil {
			return res, err
		}
		if stop {
			res.StopReason = "early_stopping"
			t.Log.Info().Int("step", r.prog.GlobalStep).Int("patience", a.EarlyStoppingPatience).Msg("early stopping: no improvement")
			break
		}
	}
	r.clearProgress()
	return r.finish(res)
}

// epoch returns training progress in epochs, as HF reports it.
func (r *run) epoch() float64 { return float64(r.prog.MicroBatches) / float64(r.perEpoch) }

// step runs one optimizer step over up to gradient_accumulation_steps
// micro-batches (fewer at an epoch's end) and returns its loss.
func (r *run) step() error {
	a := r.a
	n := min(a.GradientAccumulationStep, r.perEpoch-r.prog.MicroBatches%r.perEpoch)
	batches := make([]data.Batch, 0, n)
	labelTokens := 0
	var realTokens int64
	for range n {
		idx := r.shard(r.sampler.Next())
		if len(idx) == 0 {
			continue // this rank's share of a short last batch is empty
		}
		rows := make([]data.Tokenized, len(idx))
		for j, k := range idx {
			rows[j] = r.t.Train[k]
		}
		b := data.Collate(rows, r.t.PadID, r.padTo)
		batches = append(batches, b)
		labelTokens += b.Tokens
		for _, m := range b.Mask {
			for _, v := range m {
				realTokens += int64(v)
			}
		}
	}
	labelTokens, err := r.globalTokens(labelTokens)
	if err != nil {
		return err
	}
	// The loss of the step is the mean over all its label tokens: each
	// micro-batch's summed loss is scaled by 1/(label tokens of the step).
	scale := 1 / float64(max(1, labelTokens))
	var lossSum float64
	for i, b := range batches {
		r.loraPass(true, r.prog.MicroBatches+i)
		l, err := backward(r.t.Model, b, scale, a.GradientCheckpointing)
		if err != nil {
			return err
		}
		lossSum += l
	}
	r.loraPass(false, 0)
	if lossSum, realTokens, err = r.reduceStep(lossSum, realTokens); err != nil {
		return err
	}
	r.tokens += realTokens
	loss := lossSum * scale
	if math.IsNaN(loss) || math.IsInf(loss, 0) {
		return fmt.Errorf("loss is %v", loss)
	}
	gradNorm, err := r.clipGrads()
	if err != nil {
		return err
	}
	lr := a.LearningRate * lrFactor(a.LRSchedulerType, r.prog.GlobalStep, r.warmup, r.total)
	err = func() error {
		defer torch.NoGrad()()
		defer r.t.Model.WeightsChanged()
		if err := r.opt.step(lr); err != nil {
			return err
		}
		// Set to none (PyTorch's zero_grad default): the next backward
		// stores its gradients instead of adding them into zeroed buffers.
		for _, p := range r.params {
			if err := p.Tensor.DropGrad(); err != nil {
				return err
			}
		}
		return nil
	}()
	if err != nil {
		return err
	}
	r.prog.GlobalStep++
	r.prog.MicroBatches += n
	r.prog.LossSinceLog += loss
	r.prog.StepsSinceLog++
	r.prog.LossTotal += loss
	r.prog.TokensSeen += int64(labelTokens)
	r.prog.Scheduler.LastStep = r.prog.GlobalStep
	r.lastGradNorm = gradNorm
	return nil
}

// clipGrads returns the total 2-norm of all gradients and, when
// max_grad_norm > 0 and the norm exceeds it, scales them by
// max/(norm+1e-6) as torch.nn.utils.clip_grad_norm_ does — inside the
// optimizer's update when it can (gradScaler), else in place.
func (r *run) clipGrads() (float64, error) {
	defer torch.NoGrad()()
	s := torch.NewScope()
	defer s.Close()
	var grads []*torch.Tensor
	for _, p := range r.params {
		g, err := p.Tensor.Grad()
		if err != nil {
			return 0, err
		}
		if g != nil {
			grads = append(grads, s.Own(g))
		}
	}
	norm, err := torch.GradNorm(grads)
	if err != nil {
		return 0, err
	}
	coef := r.a.MaxGradNorm / (norm + 1e-6)
	if r.a.MaxGradNorm <= 0 || coef >= 1 {
		return norm, nil
	}
	if gs, ok := r.opt.(gradScaler); ok {
		gs.setGradScale(coef)
		return norm, nil
	}
	for _, g := range grads {
		s.MulScalarInPlace(g, coef)
	}
	return norm, s.Err()
}

// afterStep logs, evaluates and saves as the strategies say. It reports
// whether early stopping asks to stop.
func (r *run) afterStep() (bool, error) {
	a := r.a
	step := r.prog.GlobalStep
	epochEnd := r.prog.MicroBatches%r.perEpoch == 0
	last := step == r.total
	due := func(strategy string, every int) bool {
		switch strategy {
		case "steps":
			return step%every == 0
		case "epoch":
			return epochEnd
		}
		return false
	}
	// The bar shares stderr with the log: clear it before logging, redraw after.
	r.clearProgress()
	defer r.drawProgress()
	if due(a.LoggingStrategy, a.LoggingSteps) || (a.LoggingFirstStep && step == 1) || (last && r.prog.StepsSinceLog > 0 && a.LoggingStrategy != "no") {
		r.logTrain()
	}
	stop := false
	if due(a.EvaluationStrategy, a.EvalSteps) && len(r.t.Eval) > 0 {
		if err := r.evaluate(); err != nil {
			return false, err
		}
		stop = a.EarlyStoppingPatience > 0 && r.prog.BadEvals >= a.EarlyStoppingPatience
	}
	if due(a.SaveStrategy, a.SaveSteps) {
		if _, err := r.saveCheckpoint(); err != nil {
			return false, err
		}
	}
	return stop, nil
}

func (r *run) record(e LogEntry) {
	r.state.LogHistory = append(r.state.LogHistory, e)
	if r.t.OnLog != nil {
		r.t.OnLog(e)
	}
}

func (r *run) logTrain() {
	a := r.a
	step := r.prog.GlobalStep
	loss := r.prog.LossSinceLog / float64(r.prog.StepsSinceLog)
	lr := a.LearningRate * lrFactor(a.LRSchedulerType, step, r.warmup, r.total)
	e := LogEntry{Epoch: round4(r.epoch()), Step: step, Loss: f64(loss), LearningRate: f64(lr), GradNorm: f64(r.lastGradNorm)}
	r.record(e)
	elapsed := time.Since(r.start)
	since := time.Since(r.logStart).Seconds()
	eta := time.Duration(0)
	if done := step; done > 0 {
		eta = time.Duration(float64(elapsed) / float64(done) * float64(r.total-done))
	}
	r.t.Log.Info().Int("step", step).Int("of", r.total).Float64("epoch", e.Epoch).Float64("loss", loss).Float64("learning_rate", lr).
		Float64("grad_norm", r.lastGradNorm).Float64("tokens_per_s", float64(r.tokens)/math.Max(since, 1e-9)).
		Str("elapsed", elapsed.Round(time.Second).String()).Str("eta", eta.Round(time.Second).String()).Msg("train")
	r.prog.LossSinceLog, r.prog.StepsSinceLog = 0, 0
	r.tokens, r.logStart = 0, time.Now()
}

func round4(x float64) float64 { return math.Round(x*1e4) / 1e4 }

// clearProgress erases the bar's line (a terminal is assumed).
func (r *run) clearProgress() {
	if r.t.Progress != nil {
		fmt.Fprint(r.t.Progress, "\r\033[K")
	}
}

// drawProgress redraws a one-line bar when Progress is set.
func (r *run) drawProgress() {
	if r.t.Progress == nil {
		return
	}
	const width = 30
	done := r.prog.GlobalStep * width / max(1, r.total)
	bar := make([]byte, width)
	for i := range bar {
		bar[i] = ' '
		if i < done {
			bar[i] = '#'
		}
	}
	eta := ""
	if done := r.prog.GlobalStep; done > 0 {
		eta = (time.Duration(float64(time.Since(r.start)) / float64(done) * float64(r.total-done))).Round(time.Second).String()
	}
	fmt.Fprintf(r.t.Progress, "\r[%s] %d/%d steps, ETA %s", bar, r.prog.GlobalStep, r.total, eta)
}

// Evaluate returns the mean next-token loss over rows (token-weighted),
// in batches of batchSize padded to their longest row. Runs on the worker.
func Evaluate(ctx context.Context, m *model.Model, rows []data.Tokenized, padID, batchSize int) (float64, error) {
	if len(rows) == 0 {
		return math.NaN(), errors.New("train: no evaluation rows")
	}
	sum, tokens, err := evaluateSum(ctx, m, rows, padID, batchSize)
	if err != nil {
		return 0, err
	}
	return sum / float64(max(1, tokens)), nil
}

// evaluateSum returns the summed next-token loss over rows and the number
// of label tokens it covers.
func evaluateSum(ctx context.Context, m *model.Model, rows []data.Tokenized, padID, batchSize int) (float64, int, error) {
	defer torch.NoGrad()()
	var sum float64
	var tokens int
	for i := 0; i < len(rows); i += batchSize {
		if err := ctx.Err(); err != nil {
			return 0, 0, err
		}
		b := data.Collate(rows[i:min(i+batchSize, len(rows))], padID, 0)
		s := torch.NewScope()
		loss := lossSum(s, m, b)
		if err := s.Err(); err != nil {
			s.Close()
			return 0, 0, err
		}
		v, err := loss.Item64()
		s.Close()
		if err != nil {
			return 0, 0, err
		}
		sum += v
		tokens += b.Tokens
	}
	return sum, tokens, nil
}

func (r *run) evaluate() error {
	start := time.Now()
	loss, err := r.evalLoss()
	if err != nil {
		return fmt.Errorf("train: evaluate at step %d: %w", r.prog.GlobalStep, err)
	}
	rt := time.Since(start).Seconds()
	nb := (len(r.t.Eval) + r.a.PerDeviceEvalBatchSize - 1) / r.a.PerDeviceEvalBatchSize
	e := LogEntry{Epoch: round4(r.epoch()), Step: r.prog.GlobalStep, EvalLoss: f64(loss), EvalPerplexity: f64(math.Exp(loss)),
		EvalRuntime: f64(rt), EvalSamplesPerSecond: f64(float64(len(r.t.Eval)) / rt), EvalStepsPerSecond: f64(float64(nb) / rt)}
	r.record(e)
	r.lastEval = loss
	r.t.Log.Info().Int("step", r.prog.GlobalStep).Float64("eval_loss", loss).Float64("perplexity", math.Exp(loss)).Msg("eval")
	metric := loss
	if r.a.MetricForBestModel == "eval_perplexity" {
		metric = math.Exp(loss)
	}
	better := r.state.BestMetric == nil || (r.a.greaterIsBetter() && metric > *r.state.BestMetric) || (!r.a.greaterIsBetter() && metric < *r.state.BestMetric)
	if better {
		r.state.BestMetric = f64(metric)
		r.bestStep = r.prog.GlobalStep
		r.prog.BadEvals = 0
	} else {
		r.prog.BadEvals++
	}
	return nil
}

// saveCheckpoint writes output_dir/checkpoint-<step> through a temporary
// folder renamed into place, then applies save_total_limit.
func (r *run) saveCheckpoint() (string, error) {
	step := r.prog.GlobalStep
	final := filepath.Join(r.a.OutputDir, fmt.Sprintf("%s%d", checkpointPrefix, step))
	if r.bestStep == step && r.state.BestMetric != nil {
		r.state.BestModelCheckpoint = &final
	}
	states, err := r.gatherRankStates() // every rank's file goes in before the checkpoint is visible
	if err != nil {
		return "", fmt.Errorf("train: checkpoint %s: %w", final, err)
	}
	if !r.isMain() {
		return final, r.checkpointWritten(final) // rank 0 writes it
	}
	tmp, err := os.MkdirTemp(r.a.OutputDir, ".tmp-"+checkpointPrefix)
	if err != nil {
		return "", fmt.Errorf("train: checkpoint: %w", err)
	}
	fail := func(err error) (string, error) {
		os.RemoveAll(tmp)
		return "", fmt.Errorf("train: save checkpoint %s: %w", final, err)
	}
	if err := r.writeWeights(tmp); err != nil {
		return fail(err)
	}
	if err := saveOptimizer(filepath.Join(tmp, optimizerFile), r.opt); err != nil {
		return fail(err)
	}
	r.prog.Sampler = r.sampler.State()
	r.prog.Optim = r.a.Optim
	_, r.prog.OptimStep = r.opt.slots()
	r.prog.ElapsedSeconds = time.Since(r.start).Seconds()
	r.prog.WorldSize, r.prog.GradAccum = r.world(), r.a.GradientAccumulationStep
	for rank, b := range states {
		if err := writeFileAtomic(filepath.Join(tmp, rankStateName(rank)), b); err != nil {
			return fail(err)
		}
	}
	r.state.GlobalStep, r.state.Epoch = step, r.epoch()
	for name, v := range map[string]any{progressFile: r.prog, stateFile: r.state, argsFile: r.a} {
		if err := writeJSONAtomic(filepath.Join(tmp, name), v); err != nil {
			return fail(err)
		}
	}
	if err := os.RemoveAll(final); err != nil {
		return fail(err)
	}
	if err := os.Rename(tmp, final); err != nil {
		return fail(err)
	}
	r.t.Log.Info().Int("step", step).Str("path", final).Msg("checkpoint saved")
	if err := r.checkpointWritten(final); err != nil {
		return "", err
	}
	return final, r.rotate()
}

// rotate deletes the oldest checkpoints beyond save_total_limit, never the best.
func (r *run) rotate() error {
	limit := r.a.SaveTotalLimit
	if limit <= 0 {
		return nil
	}
	cks, err := listCheckpoints(r.a.OutputDir)
	if err != nil {
		return err
	}
	best := ""
	if r.state.BestModelCheckpoint != nil {
		best = *r.state.BestModelCheckpoint
	}
	var others []string
	for _, c := range cks {
		if c != best {
			others = append(others, c)
		}
	}
	keep := limit
	if len(others) < len(cks) { // the best is here and takes a slot…
		keep = max(limit-1, 1) // …but the latest is kept too (HF keeps 2 when limit is 1)
	}
	for i := 0; i < len(others)-keep; i++ {
		if err := os.RemoveAll(others[i]); err != nil {
			return fmt.Errorf("train: remove old checkpoint: %w", err)
		}
	}
	return nil
}
