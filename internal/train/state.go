package train

import (
	"github.com/golamini/golamini/internal/data"
)

// LogEntry is one entry of trainer_state.json's log_history, with HF's
// names: a training log (loss, learning_rate, grad_norm), an evaluation
// (eval_*), or the final summary (train_*). Floats keep full precision.
type LogEntry struct {
	Epoch                 float64  `json:"epoch"`
	Step                  int      `json:"step"`
	Loss                  *float64 `json:"loss,omitempty"`
	LearningRate          *float64 `json:"learning_rate,omitempty"`
	GradNorm              *float64 `json:"grad_norm,omitempty"`
	EvalLoss              *float64 `json:"eval_loss,omitempty"`
	EvalPerplexity        *float64 `json:"eval_perplexity,omitempty"`
	EvalRuntime           *float64 `json:"eval_runtime,omitempty"`
	EvalSamplesPerSecond  *float64 `json:"eval_samples_per_second,omitempty"`
	EvalStepsPerSecond    *float64 `json:"eval_steps_per_second,omitempty"`
	TrainLoss             *float64 `json:"train_loss,omitempty"`
	TrainRuntime          *float64 `json:"train_runtime,omitempty"`
	TrainSamplesPerSecond *float64 `json:"train_samples_per_second,omitempty"`
	TrainStepsPerSecond   *float64 `json:"train_steps_per_second,omitempty"`
	TotalFlos             *float64 `json:"total_flos,omitempty"`
}

func f64(v float64) *float64 { return &v }

// TrainerState is trainer_state.json, laid out as HF Trainer writes it.
type TrainerState struct {
	BestMetric          *float64   `json:"best_metric"`
	BestModelCheckpoint *string    `json:"best_model_checkpoint"`
	Epoch               float64    `json:"epoch"`
	EvalSteps           int        `json:"eval_steps"`
	GlobalStep          int        `json:"global_step"`
	IsHyperParamSearch  bool       `json:"is_hyper_param_search"`
	IsLocalProcessZero  bool       `json:"is_local_process_zero"`
	IsWorldProcessZero  bool       `json:"is_world_process_zero"`
	LogHistory          []LogEntry `json:"log_history"`
	LoggingSteps        int        `json:"logging_steps"`
	MaxSteps            int        `json:"max_steps"`
	NumInputTokensSeen  int64      `json:"num_input_tokens_seen"`
	NumTrainEpochs      int        `json:"num_train_epochs"`
	SaveSteps           int        `json:"save_steps"`
	TotalFlos           float64    `json:"total_flos"`
	TrainBatchSize      int        `json:"train_batch_size"`
	TrialName           *string    `json:"trial_name"`
	TrialParams         any        `json:"trial_params"`
}

// progress is what a checkpoint needs beyond HF's files to resume exactly:
// the step, the data order position, optimizer step count, the running
// loss accumulators and early-stopping counters (trainer_progress.json).
type progress struct {
	GlobalStep     int               `json:"global_step"`
	MicroBatches   int               `json:"micro_batches"` // micro-batches consumed in total
	Sampler        data.SamplerState `json:"sampler"`
	Optim          string            `json:"optim"`
	OptimStep      int               `json:"optim_step"`
	Scheduler      schedulerState    `json:"scheduler"`
	LossSinceLog   float64           `json:"loss_since_log"`
	StepsSinceLog  int               `json:"steps_since_log"`
	LossTotal      float64           `json:"loss_total"`
	TokensSeen     int64             `json:"tokens_seen"`
	BadEvals       int               `json:"bad_evals"`
	ElapsedSeconds float64           `json:"elapsed_seconds"`
	// WorldSize and GradAccum are the run's data-parallel ranks and
	// gradient_accumulation_steps: a run resumed with another world size
	// must take optimizer steps of the same rows (0 in older checkpoints).
	WorldSize int `json:"world_size,omitempty"`
	GradAccum int `json:"gradient_accumulation_steps,omitempty"`
}

// rankState is one data-parallel rank's part of a checkpoint
// (rng_state_<rank>.json, as HF Trainer writes rng_state_<rank>.pth): the
// random streams the rank draws from and its place in the data. Every
// draw golamini makes in training is a pure function of the seed and a
// counter (LoRA dropout masks of the seed, micro-batch key and layer; the
// epochs' row orders of the seed and epoch), so the counters are the whole
// state.
type rankState struct {
	Rank      int    `json:"rank"`
	WorldSize int    `json:"world_size"`
	Seed      uint64 `json:"seed"`
	// DropoutKey is the key of the next micro-batch's dropout masks.
	DropoutKey int `json:"dropout_key"`
	// Sampler is the position of the next global micro-batch; the rank
	// takes rows [ShardOffset, ShardOffset+ShardSize) of it.
	Sampler     data.SamplerState `json:"sampler"`
	ShardOffset int               `json:"shard_offset"`
	ShardSize   int               `json:"shard_size"`
}

type schedulerState struct {
	Type     string  `json:"type"`
	BaseLR   float64 `json:"base_lr"`
	Warmup   int     `json:"warmup_steps"`
	Total    int     `json:"total_steps"`
	LastStep int     `json:"last_step"`
}
