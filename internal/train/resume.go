package train

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"time"
)

// resumeOrReset continues from a checkpoint (the one named by
// resume_from_checkpoint, else the latest in output_dir unless
// overwrite_output_dir) or, when overwriting, removes old checkpoints. It
// returns the checkpoint resumed from, or "".
func (r *run) resumeOrReset() (string, error) {
	a := r.a
	dir := a.ResumeFromCheckpoint
	if dir == "" {
		cks, err := listCheckpoints(a.OutputDir)
		if err != nil {
			return "", fmt.Errorf("train: %w", err)
		}
		if a.OverwriteOutputDir {
			for _, c := range cks {
				if err := os.RemoveAll(c); err != nil {
					return "", fmt.Errorf("train: overwrite_output_dir: %w", err)
				}
			}
			return "", nil
		}
		if len(cks) == 0 {
			return "", nil
		}
		dir = cks[len(cks)-1]
	}
	var p progress
	if err := readJSON(filepath.Join(dir, progressFile), &p); err != nil {
		return "", fmt.Errorf("train: resume from %s: %w", dir, err)
	}
	if err := checkRankFiles(dir, p); err != nil {
		return "", err
	}
	if p.Optim != a.Optim {
		return "", fmt.Errorf("train: resume from %s: it was trained with optim %q, not %q", dir, p.Optim, a.Optim)
	}
	if p.Scheduler.Total != r.total || p.Scheduler.Type != a.LRSchedulerType || p.Scheduler.BaseLR != a.LearningRate {
		return "", fmt.Errorf("train: resume from %s: its schedule (%s, lr %g, %d steps) differs from this run's (%s, lr %g, %d steps)",
			dir, p.Scheduler.Type, p.Scheduler.BaseLR, p.Scheduler.Total, a.LRSchedulerType, a.LearningRate, r.total)
	}
	if p.GradAccum > 0 && p.Sampler.BatchSize*p.GradAccum != r.sampler.State().BatchSize*r.a.GradientAccumulationStep {
		return "", fmt.Errorf("train: resume from %s: its optimizer steps took %d rows (%d ranks × per-device batch %d × %d accumulation steps), this run's take %d (%d × %d × %d): change per_device_train_batch_size or gradient_accumulation_steps so they match",
			dir, p.Sampler.BatchSize*p.GradAccum, p.WorldSize, p.Sampler.BatchSize/max(1, p.WorldSize), p.GradAccum,
			r.sampler.State().BatchSize*r.a.GradientAccumulationStep, r.world(), r.a.PerDeviceTrainBatchSize, r.a.GradientAccumulationStep)
	}
	if err := r.sampler.Restore(p.Sampler); err != nil {
		return "", fmt.Errorf("train: resume from %s: the data differs from the checkpoint's: %w", dir, err)
	}
	if st := r.sampler.State(); st.BatchSize != p.Sampler.BatchSize {
		// Another world size or per-device batch: the same rows in
		// micro-batches of another size.
		p.MicroBatches = st.Epoch*r.perEpoch + st.Batch
		p.Sampler = st
	}
	if err := readJSON(filepath.Join(dir, stateFile), &r.state); err != nil {
		return "", fmt.Errorf("train: resume from %s: %w", dir, err)
	}
	if err := r.readWeights(dir); err != nil {
		return "", fmt.Errorf("train: resume from %s: weights: %w", dir, err)
	}
	if err := loadOptimizer(filepath.Join(dir, optimizerFile), r.opt, r.t.Model.Device, p.OptimStep); err != nil {
		return "", fmt.Errorf("train: resume from %s: optimizer: %w", dir, err)
	}
	r.prog = p
	if err := r.resumeRank(dir, p); err != nil {
		return "", err
	}
	if r.state.BestModelCheckpoint != nil {
		var bp progress
		if readJSON(filepath.Join(*r.state.BestModelCheckpoint, progressFile), &bp) == nil {
			r.bestStep = bp.GlobalStep
		}
	}
	for i := len(r.state.LogHistory) - 1; i >= 0; i-- {
		if e := r.state.LogHistory[i]; e.EvalLoss != nil {
			r.lastEval = *e.EvalLoss
			break
		}
	}
	r.t.Log.Info().Str("checkpoint", dir).Int("step", p.GlobalStep).Msg("resuming")
	return dir, nil
}

func readJSON(path string, v any) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
}

// finish writes the final model, trainer_state.json, training_args.json and
// the loss curve into output_dir, loading the best checkpoint first when
// load_best_model_at_end asks for it.
func (r *run) finish(res Result) (Result, error) {
	a := r.a
	runtime := time.Since(r.start).Seconds()
	trainLoss := r.prog.LossTotal / math.Max(1, float64(r.prog.GlobalStep))
	r.record(LogEntry{Epoch: round4(r.epoch()), Step: r.prog.GlobalStep, TrainLoss: f64(trainLoss), TrainRuntime: f64(runtime),
		TrainSamplesPerSecond: f64(float64(r.prog.MicroBatches*a.PerDeviceTrainBatchSize*r.world()) / runtime),
		TrainStepsPerSecond:   f64(float64(r.prog.GlobalStep) / runtime),
		TotalFlos:             f64(float64(r.t.Model.Config.FLOPs(r.prog.TokensSeen)))})
	r.state.GlobalStep, r.state.Epoch = r.prog.GlobalStep, r.epoch()
	r.state.TotalFlos = float64(r.t.Model.Config.FLOPs(r.prog.TokensSeen))
	r.state.NumInputTokensSeen = r.prog.TokensSeen
	if a.LoadBestModelAtEnd && r.state.BestModelCheckpoint != nil {
		if err := r.readWeights(*r.state.BestModelCheckpoint); err != nil {
			return res, fmt.Errorf("train: load best model: %w", err)
		}
		r.t.Log.Info().Str("checkpoint", *r.state.BestModelCheckpoint).Float64("metric", *r.state.BestMetric).Msg("loaded best model")
		res.BestModelCheckpoint = *r.state.BestModelCheckpoint
	}
	if err := r.writeFinal(); err != nil {
		return res, err
	}
	res.GlobalStep = r.prog.GlobalStep
	res.TrainLoss = trainLoss
	res.EvalLoss = r.lastEval
	res.LogHistory = r.state.LogHistory
	res.Adapter, r.adapterKept = r.adapter, r.adapter != nil
	r.t.Log.Info().Int("steps", res.GlobalStep).Float64("train_loss", trainLoss).Float64("runtime_s", runtime).Str("output_dir", a.OutputDir).Msg("training done")
	return res, nil
}

// writeFinal writes the final model, trainer_state.json, training_args.json
// and the loss curve (rank 0 only in data-parallel runs).
func (r *run) writeFinal() error {
	if !r.isMain() {
		return nil
	}
	a := r.a
	if err := r.writeWeights(a.OutputDir); err != nil {
		return fmt.Errorf("train: write final model: %w", err)
	}
	if err := writeJSONAtomic(filepath.Join(a.OutputDir, stateFile), r.state); err != nil {
		return err
	}
	if err := writeJSONAtomic(filepath.Join(a.OutputDir, argsFile), a); err != nil {
		return err
	}
	if err := WriteLossCurve(filepath.Join(a.OutputDir, "loss_curve.png"), r.state.LogHistory); err != nil {
		return fmt.Errorf("train: loss curve: %w", err)
	}
	return nil
}
