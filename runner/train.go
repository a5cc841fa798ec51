package runner

import (
	"context"
	"errors"
	"fmt"
	"os"

	"golang.org/x/term"

	"github.com/golamini/golamini/internal/data"
	"github.com/golamini/golamini/internal/lora"
	"github.com/golamini/golamini/internal/model"
	"github.com/golamini/golamini/internal/tokenizer"
	"github.com/golamini/golamini/internal/torch"
	"github.com/golamini/golamini/internal/train"
)

// TrainingArguments are HF's TrainingArguments (field names, JSON names and
// defaults); see the field comments for where ours differ.
type TrainingArguments = train.Args

// DefaultTrainingArguments returns HF's defaults (with ours noted on the fields).
func DefaultTrainingArguments() TrainingArguments { return train.DefaultArgs() }

// LogEntry is one entry of trainer_state.json's log_history.
type LogEntry = train.LogEntry

// DataOptions say how pairs become training rows, as the course does it.
type DataOptions struct {
	// PromptTemplate wraps the input, e.g. "### Question:\n{input}\n\n### Answer:";
	// empty means input and output are simply concatenated (the course).
	PromptTemplate string
	// AppendEOS adds the end-of-text token after the output (default true).
	AppendEOS bool
	// MaxLength in tokens; 0 = min(longest row, model context).
	MaxLength int
	// TruncateRight cuts long rows at the end instead of the start (the
	// course truncates from the left, the default).
	TruncateRight bool
	// AnswerOnlyLoss trains on the output tokens only (prompt labels −100).
	AnswerOnlyLoss bool
	// ChatTemplate trains pairs in the model's chat format: each pair becomes
	// a user turn and an assistant turn, rendered with the model's chat
	// template, and only the answer and its end-of-turn token are learned
	// (as for conversations from LoadChatFromJSONLines). PromptTemplate,
	// AppendEOS and AnswerOnlyLoss do not apply then.
	ChatTemplate bool
	// EvalFraction is the held-out share (default 0.1; 0 = no held-out
	// split) and SplitSeed its seed (default 123): 1260/140 on lamini_docs.
	EvalFraction float64
	SplitSeed    uint64
}

// DefaultDataOptions is the course's processing: input+output+EOS, left
// truncation, 10% held out with seed 123.
func DefaultDataOptions() DataOptions {
	return DataOptions{AppendEOS: true, EvalFraction: data.DefaultTestFraction, SplitSeed: data.DefaultSplitSeed}
}

// TrainConfig is everything Train needs.
type TrainConfig struct {
	Args TrainingArguments
	Data DataOptions
	// Distributed, if set, trains data-parallel in the group it describes;
	// nil does so only when the environment describes one (torchrun's
	// WORLD_SIZE and friends). See DistributedConfig.
	Distributed *DistributedConfig
	// LoRA, when set, trains a LoRA adapter over the frozen model instead
	// of all weights (nil = full fine-tuning); see LoRAConfig.
	LoRA *LoRAConfig
}

// DefaultTrainConfig returns DefaultTrainingArguments and DefaultDataOptions.
func DefaultTrainConfig() TrainConfig {
	return TrainConfig{Args: DefaultTrainingArguments(), Data: DefaultDataOptions()}
}

// TrainResult sums up a training run.
type TrainResult struct {
	Steps               int
	TrainLoss           float64
	EvalLoss            float64 // NaN without a held-out split
	OutputDir           string
	BestModelCheckpoint string
	ResumedFrom         string
	StopReason          string
	LogHistory          []LogEntry
	TrainRows, EvalRows int
	// Adapter names the trained LoRA adapter, loaded and active after
	// the run (LoRA training only; output_dir holds it in PEFT's format).
	Adapter string
}

// Train fine-tunes on the loaded data with DefaultTrainConfig and logs
// what it does. Afterwards Infer uses the trained weights.
func (r *Runner) Train() (TrainResult, error) {
	return r.TrainContext(context.Background(), DefaultTrainConfig())
}

// TrainContext fine-tunes with cfg. Cancelling ctx (or closing the Runner)
// stops at the next step, saves a checkpoint and returns an error saying
// so; running again with the same output_dir resumes.
//
// Errors: ErrNoData, ErrBadData, ErrCancelled (ctx ended), ErrClosed,
// ErrBadCheckpoint (resuming from a damaged checkpoint), ErrInternal (a
// panic inside tensor work: the run stops there, and the Runner refuses
// further calls, its weights being in an unknown state).
func (r *Runner) TrainContext(ctx context.Context, cfg TrainConfig) (TrainResult, error) {
	trainRows, evalRows, err := r.tokenizedSplit(cfg.Data)
	if err != nil {
		return TrainResult{}, err
	}
	if len(evalRows) == 0 && cfg.Args.EvaluationStrategy != "no" && cfg.Args.EvaluationStrategy != "" {
		return TrainResult{}, errors.New("runner: eval_strategy needs a held-out split (Data.EvalFraction > 0)")
	}
	ev := r.log.Info().Int("train_rows", len(trainRows)).Int("eval_rows", len(evalRows))
	if cfg.Data.ChatTemplate || r.ChatLen() > 0 { // PromptTemplate and AnswerOnlyLoss do not apply
		ev = ev.Str("format", "chat template")
	} else {
		ev = ev.Str("prompt_template", cfg.Data.PromptTemplate).Bool("answer_only_loss", cfg.Data.AnswerOnlyLoss)
	}
	ev.Msg("tokenized data")
	var progress *os.File
	if term.IsTerminal(int(os.Stderr.Fd())) {
		progress = os.Stderr
	}
	if name := r.Adapter(); name != "" {
		return TrainResult{}, fmt.Errorf("runner: adapter %q is active: merge it (MergeAdapter) or deactivate it (SetAdapter(\"\")) before training", name)
	}
	group, err := r.joinGroup(cfg)
	if err != nil {
		return TrainResult{}, err
	}
	var res train.Result
	err = r.do(ctx, func(ctx context.Context, m *model.Model) error {
		tr := &train.Trainer{Args: cfg.Args, Model: m, Train: trainRows, Eval: evalRows, PadID: r.padID(),
			ModelDir: r.dir, Log: r.log, Dist: group}
		if cfg.LoRA != nil {
			tr.LoRA, tr.LoRAInit = cfg.LoRA.loraConfig(r.source), cfg.LoRA.Init
		}
		if progress != nil {
			tr.Progress = progress
		}
		if trainHook != nil {
			trainHook()
		}
		var err error
		res, err = tr.Run(ctx)
		return err
	})
	if errors.Is(err, torch.ErrPanic) {
		// The panic may have struck between parameter and optimizer
		// updates: nothing may use these weights again.
		r.mu.Lock()
		r.failed = err
		r.mu.Unlock()
		r.log.Error().Err(err).Msg("training stopped by a panic in tensor work; the runner's weights are unusable")
	}
	if group != nil {
		if err == nil {
			err = group.Barrier() // rank 0 has written the model: the store may go
		}
		group.Close()
	}
	out := TrainResult{Steps: res.GlobalStep, TrainLoss: res.TrainLoss, EvalLoss: res.EvalLoss, OutputDir: res.OutputDir,
		BestModelCheckpoint: res.BestModelCheckpoint, ResumedFrom: res.ResumedFrom, StopReason: res.StopReason,
		LogHistory: res.LogHistory, TrainRows: len(trainRows), EvalRows: len(evalRows)}
	if err != nil {
		return out, fmt.Errorf("runner: %w", err)
	}
	r.mu.Lock()
	r.trained = true
	if res.Adapter != nil {
		name := "default"
		for i := 2; r.adapters[name] != nil; i++ {
			name = fmt.Sprintf("default-%d", i)
		}
		res.Adapter.Name = name
		if r.adapters == nil {
			r.adapters = map[string]*lora.Adapter{}
		}
		r.adapters[name] = res.Adapter
		r.active = name
		out.Adapter = name
	}
	r.mu.Unlock()
	return out, nil
}

// trainHook, when set (by tests), runs on the torch worker just before the
// trainer: a way to make training fail as a libtorch panic would.
var trainHook func()

// padID is the pad token: the tokenizer's, else EOS (the course sets pad = eos).
func (r *Runner) padID() int {
	if id, ok := r.tok.PadID(); ok {
		return id
	}
	return r.tok.EOSID()
}

// split returns the loaded data's training and held-out pairs.
func (r *Runner) split(o DataOptions) (trainEx, evalEx []data.Example, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.data.Len() == 0 {
		return nil, nil, fmt.Errorf("%w (LoadDataFromJSONLines, LoadDataFromCSV or LoadData first)", ErrNoData)
	}
	if o.EvalFraction <= 0 {
		return append([]data.Example(nil), r.data.Examples()...), nil, nil
	}
	trainEx, evalEx, err = r.data.Split(o.EvalFraction, o.SplitSeed)
	if err != nil {
		return nil, nil, classify(fmt.Errorf("runner: %w", err))
	}
	return trainEx, evalEx, nil
}

func (r *Runner) tokenizeOptions(o DataOptions) data.TokenizeOptions {
	return data.TokenizeOptions{PromptTemplate: o.PromptTemplate, AppendEOS: o.AppendEOS, MaxLength: o.MaxLength,
		ContextLength: r.cfg.MaxPositionEmbeddings, TruncateLeft: !o.TruncateRight, AnswerOnlyLoss: o.AnswerOnlyLoss}
}

// tokenizedSplit splits and tokenizes the loaded data.
func (r *Runner) tokenizedSplit(o DataOptions) (trainRows, evalRows []data.Tokenized, err error) {
	if trainRows, evalRows, ok, err := r.chatRows(o); ok {
		return trainRows, evalRows, err
	}
	trainEx, evalEx, err := r.split(o)
	if err != nil {
		return nil, nil, err
	}
	topts := r.tokenizeOptions(o)
	if trainRows, err = data.Tokenize(trainEx, tokenizer.SpecialEncoder{Tokenizer: r.tok}, topts); err != nil {
		return nil, nil, classify(fmt.Errorf("runner: %w", err))
	}
	if len(evalEx) > 0 {
		if evalRows, err = data.Tokenize(evalEx, tokenizer.SpecialEncoder{Tokenizer: r.tok}, topts); err != nil {
			return nil, nil, classify(fmt.Errorf("runner: %w", err))
		}
	}
	return trainRows, evalRows, nil
}
