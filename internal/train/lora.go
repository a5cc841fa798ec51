package train

import (
	"fmt"
	"path/filepath"

	"github.com/golamini/golamini/internal/lora"
	"github.com/golamini/golamini/internal/model"
)

// LoRA training: with Trainer.LoRA or Trainer.LoRAInit set, the trainer
// optimizes only an adapter's lora_A and lora_B over the frozen model
// (no gradients or optimizer state for the base), and checkpoints and the
// final output_dir hold the adapter in PEFT's format (adapter_config.json,
// adapter_model.safetensors) with the optimizer state of the adapter only.
// Everything else (schedules, accumulation, evaluation, early stopping,
// exact resume, saving on cancellation) is the same code as full
// fine-tuning.

// setupLoRA makes (or loads from LoRAInit) the adapter, attaches it and
// makes its tensors the trained parameters. No-op for full fine-tuning.
func (r *run) setupLoRA() error {
	t := r.t
	if t.LoRA == nil && t.LoRAInit == "" {
		return nil
	}
	m := t.Model
	if m.LinearHook != nil {
		return fmt.Errorf("train: the model already runs with an adapter; merge or remove it before training another")
	}
	var a *lora.Adapter
	var err error
	if t.LoRAInit != "" {
		// The adapter's own adapter_config.json says what it is; only the
		// dropout, a training setting, may come from LoRA.
		if a, err = lora.Load(t.LoRAInit, m, "default"); err != nil {
			return fmt.Errorf("train: lora init: %w", err)
		}
		if t.LoRA != nil {
			a.Config.LoraDropout = t.LoRA.LoraDropout
		}
	} else {
		cfg := *t.LoRA
		if len(cfg.TargetModules.Names) == 0 && cfg.TargetModules.Regexp == "" {
			names, ok := lora.DefaultTargets(m.Config.ModelType)
			if !ok {
				return fmt.Errorf("train: lora: target_modules must be given for model_type %q (PEFT has no default for it)", m.Config.ModelType)
			}
			cfg.TargetModules.Names = names
		}
		if cfg.BaseModelNameOrPath == nil && t.ModelDir != "" {
			dir := t.ModelDir
			cfg.BaseModelNameOrPath = &dir
		}
		if a, err = lora.New(m, cfg, "default", r.a.Seed); err != nil {
			return fmt.Errorf("train: %w", err)
		}
	}
	a.SetSeed(r.a.Seed)
	a.Attach(m)
	r.adapter = a
	r.params = a.Parameters()
	t.Log.Info().Int("r", a.Config.R).Float64("lora_alpha", a.Config.LoraAlpha).Float64("lora_dropout", a.Config.LoraDropout).
		Int("modules", len(a.Layers)).Int64("trainable_parameters", a.NumParameters()).
		Int64("base_parameters", m.Config.NumParameters(false)).Msg("LoRA: training an adapter over the frozen model")
	return nil
}

// endLoRA detaches and frees the adapter unless the run handed it over in
// its Result (a finished run).
func (r *run) endLoRA() {
	if r.adapter != nil && !r.adapterKept {
		r.adapter.Detach(r.t.Model)
		r.adapter.Free()
	}
}

// loraPass turns the adapter's dropout on for micro-batch key (off when
// training is false).
func (r *run) loraPass(training bool, key int) {
	if r.adapter != nil {
		r.adapter.SetTraining(training, uint64(key))
	}
}

// writeWeights writes what a checkpoint or output_dir holds of the model:
// the whole model, or the adapter with the tokenizer files.
func (r *run) writeWeights(dir string) error {
	if r.adapter == nil {
		return WriteModelDir(dir, r.t.Model, r.t.ModelDir)
	}
	return WriteAdapterDir(dir, r.adapter, r.t.ModelDir)
}

// readWeights loads the weights of a checkpoint written by writeWeights.
func (r *run) readWeights(dir string) error {
	if r.adapter == nil {
		return loadWeights(dir, r.t.Model)
	}
	return r.adapter.CopyFrom(dir, r.t.Model)
}

// WriteAdapterDir writes a PEFT adapter directory (lora.Adapter.Save) and
// copies the tokenizer and generation files from srcDir beside it.
func WriteAdapterDir(dir string, a *lora.Adapter, srcDir string) error {
	if err := a.Save(dir); err != nil {
		return err
	}
	for _, f := range tokenizerFiles {
		if err := copyIfExists(filepath.Join(srcDir, f), filepath.Join(dir, f)); err != nil {
			return err
		}
	}
	return nil
}

// trainsEmbedding reports whether the input embedding gets a gradient
// (not under LoRA, where the base is frozen).
func trainsEmbedding(m *model.Model) bool { return m.EmbedIn.RequiresGrad() }
