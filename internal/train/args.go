// Package train fine-tunes a model of any family the way HF Trainer does:
// TrainingArguments with HF's names and defaults, AdamW / Adafactor / SGD,
// HF's learning-rate schedules, gradient accumulation normalised by label
// tokens, gradient clipping, evaluation, HF-layout checkpoints with
// optimizer, scheduler and data-order state, and exact resume. Tensor work
// runs on the torch worker thread.
package train

import (
	"fmt"
	"strings"
)

// Args mirrors HF's TrainingArguments (the fields the course uses and the
// usual optimisation knobs). JSON names are HF's. Defaults are HF's except
// where a field's comment says why ours differ.
type Args struct {
	OutputDir          string `json:"output_dir"`
	OverwriteOutputDir bool   `json:"overwrite_output_dir"`

	LearningRate             float64 `json:"learning_rate"`               // HF 5e-5
	NumTrainEpochs           float64 `json:"num_train_epochs"`            // HF 3
	MaxSteps                 int     `json:"max_steps"`                   // > 0 overrides epochs; HF -1
	PerDeviceTrainBatchSize  int     `json:"per_device_train_batch_size"` // HF 8
	PerDeviceEvalBatchSize   int     `json:"per_device_eval_batch_size"`  // HF 8
	GradientAccumulationStep int     `json:"gradient_accumulation_steps"` // HF 1
	GradientCheckpointing    bool    `json:"gradient_checkpointing"`      // recompute each block in backward
	Optim                    string  `json:"optim"`                       // "adamw" (HF adamw_torch), "adafactor", "sgd"
	WeightDecay              float64 `json:"weight_decay"`                // HF 0; not applied to biases and LayerNorm weights
	AdamBeta1                float64 `json:"adam_beta1"`                  // HF 0.9
	AdamBeta2                float64 `json:"adam_beta2"`                  // HF 0.999
	AdamEpsilon              float64 `json:"adam_epsilon"`                // HF 1e-8
	MaxGradNorm              float64 `json:"max_grad_norm"`               // HF 1.0; 0 = no clipping
	LRSchedulerType          string  `json:"lr_scheduler_type"`           // linear, cosine, constant, constant_with_warmup
	WarmupSteps              int     `json:"warmup_steps"`                // HF 0
	WarmupRatio              float64 `json:"warmup_ratio"`                // used when WarmupSteps is 0

	EvaluationStrategy string `json:"eval_strategy"`    // "no", "steps", "epoch"; HF "no"
	EvalSteps          int    `json:"eval_steps"`       // 0 = LoggingSteps, as HF
	LoggingStrategy    string `json:"logging_strategy"` // HF "steps"
	LoggingSteps       int    `json:"logging_steps"`    // HF 500; ours 10, so short runs show a curve
	LoggingFirstStep   bool   `json:"logging_first_step"`
	SaveStrategy       string `json:"save_strategy"`    // HF "steps"
	SaveSteps          int    `json:"save_steps"`       // HF 500
	SaveTotalLimit     int    `json:"save_total_limit"` // 0 = keep all; the best checkpoint is never removed

	LoadBestModelAtEnd    bool   `json:"load_best_model_at_end"`
	MetricForBestModel    string `json:"metric_for_best_model"`   // "eval_loss" (default) or "eval_perplexity"
	GreaterIsBetter       *bool  `json:"greater_is_better"`       // default false for *loss metrics
	EarlyStoppingPatience int    `json:"early_stopping_patience"` // evaluations without improvement before stopping; 0 = off

	Seed    uint64 `json:"seed"`    // HF 42
	Shuffle bool   `json:"shuffle"` // HF always shuffles; false takes rows in file order (reproducing curves) unless GroupByLength is set true
	// GroupByLength batches rows of similar length together (HF's
	// group_by_length; each batch pads to its own longest row, so grouping
	// saves padding): nil, the default, means "when Shuffle is on". Shuffle
	// on: grouped random order. Shuffle off, GroupByLength nil or false:
	// exactly file order (reproduces a plain loop's curve row for row).
	// Shuffle off, GroupByLength true: file order cut into megabatches,
	// each sorted longest first. With one row per batch grouping saves
	// nothing and never reorders.
	GroupByLength        *bool  `json:"group_by_length"`
	PadToMaxLength       bool   `json:"pad_to_max_length"`                // pad every batch to the data's max length (the course's way)
	ResumeFromCheckpoint string `json:"resume_from_checkpoint,omitempty"` // a checkpoint dir, or "" = latest in OutputDir unless overwriting
}

// DefaultArgs returns HF's TrainingArguments defaults, with the
// differences documented on the fields (logging every 10 steps,
// length-grouped batches when shuffling).
func DefaultArgs() Args {
	return Args{
		OutputDir:                "golamini-output",
		LearningRate:             5e-5,
		NumTrainEpochs:           3,
		MaxSteps:                 -1,
		PerDeviceTrainBatchSize:  8,
		PerDeviceEvalBatchSize:   8,
		GradientAccumulationStep: 1,
		Optim:                    "adamw",
		AdamBeta1:                0.9,
		AdamBeta2:                0.999,
		AdamEpsilon:              1e-8,
		MaxGradNorm:              1.0,
		LRSchedulerType:          "linear",
		EvaluationStrategy:       "no",
		LoggingStrategy:          "steps",
		LoggingSteps:             10,
		SaveStrategy:             "steps",
		SaveSteps:                500,
		MetricForBestModel:       "eval_loss",
		Seed:                     42,
		Shuffle:                  true,
	}
}

// GroupsByLength resolves GroupByLength: its value when set, else Shuffle.
func (a *Args) GroupsByLength() bool {
	if a.GroupByLength != nil {
		return *a.GroupByLength
	}
	return a.Shuffle
}

// Validate reports arguments that cannot work, naming the field.
func (a *Args) Validate() error {
	bad := func(field string, v any, why string) error {
		return fmt.Errorf("train: %s = %v: %s", field, v, why)
	}
	switch {
	case a.OutputDir == "":
		return bad("output_dir", `""`, "must be set")
	case a.LearningRate < 0:
		return bad("learning_rate", a.LearningRate, "must be ≥ 0")
	case a.MaxSteps <= 0 && a.NumTrainEpochs <= 0:
		return bad("num_train_epochs", a.NumTrainEpochs, "must be > 0 when max_steps is not set")
	case a.PerDeviceTrainBatchSize < 1:
		return bad("per_device_train_batch_size", a.PerDeviceTrainBatchSize, "must be ≥ 1")
	case a.PerDeviceEvalBatchSize < 1:
		return bad("per_device_eval_batch_size", a.PerDeviceEvalBatchSize, "must be ≥ 1")
	case a.GradientAccumulationStep < 1:
		return bad("gradient_accumulation_steps", a.GradientAccumulationStep, "must be ≥ 1")
	case a.MaxGradNorm < 0:
		return bad("max_grad_norm", a.MaxGradNorm, "must be ≥ 0 (0 = no clipping)")
	case a.WarmupSteps < 0:
		return bad("warmup_steps", a.WarmupSteps, "must be ≥ 0")
	case a.WarmupRatio < 0 || a.WarmupRatio >= 1:
		return bad("warmup_ratio", a.WarmupRatio, "must be in [0, 1)")
	case a.AdamBeta1 < 0 || a.AdamBeta1 >= 1 || a.AdamBeta2 < 0 || a.AdamBeta2 >= 1:
		return bad("adam_beta1/adam_beta2", fmt.Sprint(a.AdamBeta1, a.AdamBeta2), "must be in [0, 1)")
	case a.SaveTotalLimit < 0:
		return bad("save_total_limit", a.SaveTotalLimit, "must be ≥ 0")
	case a.EarlyStoppingPatience < 0:
		return bad("early_stopping_patience", a.EarlyStoppingPatience, "must be ≥ 0")
	}
	switch strings.ToLower(a.Optim) {
	case "adamw", "adamw_torch", "adamw_hf":
		a.Optim = "adamw"
	case "adafactor", "sgd":
		a.Optim = strings.ToLower(a.Optim)
	default:
		return bad("optim", a.Optim, "unsupported (adamw, adafactor, sgd)")
	}
	switch a.LRSchedulerType {
	case "linear", "cosine", "constant", "constant_with_warmup":
	default:
		return bad("lr_scheduler_type", a.LRSchedulerType, "unsupported (linear, cosine, constant, constant_with_warmup)")
	}
	for field, v := range map[string]*string{"eval_strategy": &a.EvaluationStrategy, "logging_strategy": &a.LoggingStrategy, "save_strategy": &a.SaveStrategy} {
		switch *v {
		case "":
			*v = "no"
		case "no", "steps", "epoch":
		default:
			return bad(field, *v, `must be "no", "steps" or "epoch"`)
		}
	}
	if a.LoggingStrategy == "steps" && a.LoggingSteps < 1 {
		return bad("logging_steps", a.LoggingSteps, "must be ≥ 1 with logging_strategy steps")
	}
	if a.EvalSteps == 0 {
		a.EvalSteps = a.LoggingSteps
	}
	if a.EvaluationStrategy == "steps" && a.EvalSteps < 1 {
		return bad("eval_steps", a.EvalSteps, "must be ≥ 1 with eval_strategy steps")
	}
	if a.SaveStrategy == "steps" && a.SaveSteps < 1 {
		return bad("save_steps", a.SaveSteps, "must be ≥ 1 with save_strategy steps")
	}
	if a.MetricForBestModel == "" {
		a.MetricForBestModel = "eval_loss"
	}
	if !strings.HasPrefix(a.MetricForBestModel, "eval_") {
		a.MetricForBestModel = "eval_" + a.MetricForBestModel
	}
	if a.MetricForBestModel != "eval_loss" && a.MetricForBestModel != "eval_perplexity" {
		return bad("metric_for_best_model", a.MetricForBestModel, "unsupported (eval_loss, eval_perplexity)")
	}
	if a.LoadBestModelAtEnd {
		if a.EvaluationStrategy == "no" {
			return bad("load_best_model_at_end", true, "needs an eval_strategy other than \"no\"")
		}
		if a.SaveStrategy != a.EvaluationStrategy || (a.SaveStrategy == "steps" && a.SaveSteps%a.EvalSteps != 0) {
			return bad("load_best_model_at_end", true, "needs save_strategy equal to eval_strategy and save_steps a multiple of eval_steps (as HF)")
		}
	}
	if a.EarlyStoppingPatience > 0 && a.EvaluationStrategy == "no" {
		return bad("early_stopping_patience", a.EarlyStoppingPatience, "needs an eval_strategy other than \"no\"")
	}
	return nil
}

// greaterIsBetter resolves GreaterIsBetter's default (false for losses).
func (a *Args) greaterIsBetter() bool {
	if a.GreaterIsBetter != nil {
		return *a.GreaterIsBetter
	}
	return !strings.HasSuffix(a.MetricForBestModel, "loss")
}
