package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"math"
	"path/filepath"
	"strings"

	"github.com/golamini/golamini/runner"
)

func init() {
	register(command{name: "train", short: "fine-tune a model on JSON-lines or CSV data", run: runTrain})
	register(command{name: "eval", short: "evaluate a model on the held-out split of a data file", run: runEval})
}

// dataFlags are the data options shared by train and eval.
type dataFlags struct {
	data, inputKey, outputKey, template  string
	appendEOS, truncateRight, answerOnly bool
	maxLength                            int
	evalFraction                         float64
	splitSeed                            uint64
	chat, chatTemplate                   bool // train only (addChatFlags)
}

// addChatFlags adds train's flags for data in the model's chat format.
func (d *dataFlags) addChatFlags(fs *flag.FlagSet) {
	fs.BoolVar(&d.chat, "chat", false, `--data holds conversations, JSON lines {"messages": [{"role", "content"}, ...]}: render them with the model's chat template and learn only the assistant replies and their end-of-turn token`)
	fs.BoolVar(&d.chatTemplate, "chat-template", false, "train the question/answer pairs in the model's chat format (a user turn and an assistant turn; only the answer and its end-of-turn token are learned)")
}

func addDataFlags(fs *flag.FlagSet) *dataFlags {
	d := &dataFlags{}
	def := runner.DefaultDataOptions()
	fs.StringVar(&d.data, "data", "", "training data: a .jsonl or .csv file")
	fs.StringVar(&d.inputKey, "input-key", "input", "key (or CSV column) of the input")
	fs.StringVar(&d.outputKey, "output-key", "output", "key (or CSV column) of the output")
	fs.StringVar(&d.template, "prompt-template", "", `prompt template around the input, e.g. "### Question:\n{input}\n\n### Answer:"`)
	fs.BoolVar(&d.appendEOS, "append-eos", def.AppendEOS, "append the end-of-text token to each row")
	fs.BoolVar(&d.truncateRight, "truncate-right", false, "cut long rows at the end (default: from the left, as the course)")
	fs.BoolVar(&d.answerOnly, "answer-only-loss", false, "train on the output tokens only")
	fs.IntVar(&d.maxLength, "max-length", 0, "max tokens per row (0 = min(longest, context))")
	fs.Float64Var(&d.evalFraction, "eval-fraction", def.EvalFraction, "held-out fraction (0 = no held-out split)")
	fs.Uint64Var(&d.splitSeed, "split-seed", def.SplitSeed, "seed of the held-out split")
	return d
}

func (d *dataFlags) options() runner.DataOptions {
	return runner.DataOptions{PromptTemplate: strings.ReplaceAll(d.template, `\n`, "\n"), AppendEOS: d.appendEOS, MaxLength: d.maxLength,
		TruncateRight: d.truncateRight, AnswerOnlyLoss: d.answerOnly, EvalFraction: d.evalFraction, SplitSeed: d.splitSeed,
		ChatTemplate: d.chatTemplate}
}

func (d *dataFlags) load(r *runner.Runner) error {
	if d.data == "" {
		return fmt.Errorf("%w: --data is required", errUsage)
	}
	if d.chat {
		if d.chatTemplate {
			return fmt.Errorf("%w: --chat data is already in the chat format; --chat-template is for question/answer pairs", errUsage)
		}
		return r.LoadChatFromJSONLines(d.data)
	}
	if strings.EqualFold(filepath.Ext(d.data), ".csv") {
		return r.LoadDataFromCSV(d.data, d.inputKey, d.outputKey)
	}
	return r.LoadDataFromJSONLines(d.data, d.inputKey, d.outputKey)
}

func runTrain(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := newFlagSet("train", stderr)
	modelDir := fs.String("model", "", "model directory or hub id")
	device := fs.String("device", "auto", "auto, cpu, cuda or cuda:N")
	quiet := fs.Bool("quiet", false, "log warnings only")
	d := addDataFlags(fs)
	d.addChatFlags(fs)
	a := runner.DefaultTrainingArguments()
	fs.StringVar(&a.OutputDir, "output-dir", a.OutputDir, "where checkpoints and the final model go")
	fs.BoolVar(&a.OverwriteOutputDir, "overwrite-output-dir", false, "start over instead of resuming from checkpoints in --output-dir")
	fs.Float64Var(&a.LearningRate, "learning-rate", a.LearningRate, "peak learning rate")
	fs.Float64Var(&a.NumTrainEpochs, "num-train-epochs", a.NumTrainEpochs, "epochs (ignored when --max-steps > 0)")
	fs.IntVar(&a.MaxSteps, "max-steps", a.MaxSteps, "optimizer steps; > 0 overrides epochs")
	fs.IntVar(&a.PerDeviceTrainBatchSize, "per-device-train-batch-size", a.PerDeviceTrainBatchSize, "rows per micro-batch")
	fs.IntVar(&a.PerDeviceEvalBatchSize, "per-device-eval-batch-size", a.PerDeviceEvalBatchSize, "rows per evaluation batch")
	fs.IntVar(&a.GradientAccumulationStep, "gradient-accumulation-steps", a.GradientAccumulationStep, "micro-batches per optimizer step")
	fs.BoolVar(&a.GradientCheckpointing, "gradient-checkpointing", false, "recompute activations in backward to save memory")
	fs.StringVar(&a.Optim, "optim", a.Optim, "adamw, adafactor or sgd")
	fs.Float64Var(&a.WeightDecay, "weight-decay", a.WeightDecay, "decoupled weight decay (not on biases and LayerNorm)")
	fs.Float64Var(&a.AdamBeta1, "adam-beta1", a.AdamBeta1, "AdamW beta1")
	fs.Float64Var(&a.AdamBeta2, "adam-beta2", a.AdamBeta2, "AdamW beta2")
	fs.Float64Var(&a.AdamEpsilon, "adam-epsilon", a.AdamEpsilon, "AdamW epsilon")
	fs.Float64Var(&a.MaxGradNorm, "max-grad-norm", a.MaxGradNorm, "gradient clipping norm (0 = no clipping, as in HF)")
	fs.StringVar(&a.LRSchedulerType, "lr-scheduler-type", a.LRSchedulerType, "linear, cosine, constant or constant_with_warmup")
	fs.IntVar(&a.WarmupSteps, "warmup-steps", a.WarmupSteps, "linear warmup steps")
	fs.Float64Var(&a.WarmupRatio, "warmup-ratio", a.WarmupRatio, "warmup as a share of all steps (when --warmup-steps is 0)")
	fs.StringVar(&a.EvaluationStrategy, "eval-strategy", a.EvaluationStrategy, "no, steps or epoch")
	fs.IntVar(&a.EvalSteps, "eval-steps", a.EvalSteps, "evaluate every N steps (0 = --logging-steps)")
	fs.StringVar(&a.LoggingStrategy, "logging-strategy", a.LoggingStrategy, "no, steps or epoch")
	fs.IntVar(&a.LoggingSteps, "logging-steps", a.LoggingSteps, "log every N steps")
	fs.BoolVar(&a.LoggingFirstStep, "logging-first-step", a.LoggingFirstStep, "also log the first step")
	fs.StringVar(&a.SaveStrategy, "save-strategy", a.SaveStrategy, "no, steps or epoch")
	fs.IntVar(&a.SaveSteps, "save-steps", a.SaveSteps, "save a checkpoint every N steps")
	fs.IntVar(&a.SaveTotalLimit, "save-total-limit", a.SaveTotalLimit, "keep at most N checkpoints (0 = all; the best is kept)")
	fs.BoolVar(&a.LoadBestModelAtEnd, "load-best-model-at-end", a.LoadBestModelAtEnd, "end with the best checkpoint's weights")
	fs.StringVar(&a.MetricForBestModel, "metric-for-best-model", a.MetricForBestModel, "eval_loss or eval_perplexity")
	greater := fs.Bool("greater-is-better", false, "a larger metric is better (default false for losses)")
	fs.IntVar(&a.EarlyStoppingPatience, "early-stopping-patience", 0, "stop after N evaluations without improvement (0 = off)")
	fs.Uint64Var(&a.Seed, "seed", a.Seed, "seed for shuffling")
	fs.BoolVar(&a.Shuffle, "shuffle", a.Shuffle, "shuffle rows each epoch; --shuffle=false takes rows in file order (unless --group-by-length is given)")
	groupByLength := fs.Bool("group-by-length", true, "batch rows of similar length together, so batches pad less (default: on when shuffling; given with --shuffle=false it sorts each megabatch of file order longest first; never reorders batches of one row)")
	fs.BoolVar(&a.PadToMaxLength, "pad-to-max-length", a.PadToMaxLength, "pad every batch to the longest row of the data (the course's way)")
	fs.StringVar(&a.ResumeFromCheckpoint, "resume-from-checkpoint", "", "resume from this checkpoint directory")
	df := addDistFlags(fs)
	lf := addLoRAFlags(fs)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if df.nproc > 0 {
		return df.launch(ctx, args, stdout, stderr)
	}
	dc, err := df.config()
	if err != nil {
		return err
	}
	if dc != nil && dc.Env.Rank != 0 {
		*quiet = true // rank 0 logs
	}
	fs.Visit(func(f *flag.Flag) {
		switch f.Name {
		case "greater-is-better":
			a.GreaterIsBetter = greater
		case "group-by-length":
			a.GroupByLength = groupByLength
		}
	})
	if *modelDir == "" {
		return fmt.Errorf("%w: --model is required", errUsage)
	}
	dir, err := resolveForInfo(ctx, *modelDir, stderr)
	if err != nil {
		return err
	}
	r, err := runner.NewContext(ctx, dir, runner.WithDevice(rankDevice(*device, dc)), runner.WithLogger(newLogger(stderr, *quiet)), runner.WithSeed(a.Seed))
	if err != nil {
		return err
	}
	defer r.Close()
	if err := d.load(r); err != nil {
		return err
	}
	lcfg, err := lf.config()
	if err != nil {
		return err
	}
	res, err := r.TrainContext(ctx, runner.TrainConfig{Args: a, Data: d.options(), Distributed: dc, LoRA: lcfg})
	if err != nil {
		return err
	}
	if dc != nil && dc.Env.Rank != 0 {
		return nil // rank 0 reports
	}
	fmt.Fprintf(stdout, "trained %d steps: train loss %.4f", res.Steps, res.TrainLoss)
	if !math.IsNaN(res.EvalLoss) {
		fmt.Fprintf(stdout, ", eval loss %.4f", res.EvalLoss)
	}
	what := "model"
	if res.Adapter != "" {
		what = "LoRA adapter (PEFT format)"
	}
	fmt.Fprintf(stdout, "\n%s, trainer_state.json and loss_curve.png in %s\n", what, res.OutputDir)
	return nil
}

func runEval(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := newFlagSet("eval", stderr)
	modelDir := fs.String("model", "", "model directory or hub id (e.g. a train --output-dir)")
	base := fs.String("base", "", "base model directory to compare answers with (default: none)")
	device := fs.String("device", "auto", "auto, cpu, cuda or cuda:N")
	maxRows := fs.Int("max-rows", 0, "generate answers for at most N held-out rows (0 = all)")
	maxNew := fs.Int("max-new-tokens", 100, "most tokens per answer")
	asJSON := fs.Bool("json", false, "print one JSON object")
	quiet := fs.Bool("quiet", false, "log warnings only")
	d := addDataFlags(fs)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *modelDir == "" {
		return fmt.Errorf("%w: --model is required", errUsage)
	}
	dir, err := resolveForInfo(ctx, *modelDir, stderr)
	if err != nil {
		return err
	}
	r, err := runner.NewContext(ctx, dir, runner.WithDevice(*device), runner.WithLogger(newLogger(stderr, *quiet)))
	if err != nil {
		return err
	}
	defer r.Close()
	if err := d.load(r); err != nil {
		return err
	}
	o := runner.DefaultEvaluateOptions()
	o.Data, o.MaxRows, o.Generate.MaxNewTokens = d.options(), *maxRows, *maxNew
	o.CompareBase = false
	rep, err := r.EvaluateWith(ctx, o)
	if err != nil {
		return err
	}
	if *base != "" {
		bdir, err := resolveForInfo(ctx, *base, stderr)
		if err != nil {
			return err
		}
		br, err := runner.NewContext(ctx, bdir, runner.WithDevice(*device), runner.WithLogger(newLogger(stderr, *quiet)))
		if err != nil {
			return err
		}
		defer br.Close()
		if err := d.load(br); err != nil {
			return err
		}
		brep, err := br.EvaluateWith(ctx, o)
		if err != nil {
			return err
		}
		rep.BaseExactMatch = brep.ExactMatch
		for i := range rep.Rows {
			rep.Rows[i].Base = brep.Rows[i].Trained
		}
	}
	if *asJSON {
		return writeJSON(stdout, rep)
	}
	fmt.Fprintf(stdout, "held-out rows: %d\neval loss: %.4f\nperplexity: %.3f\nexact match: %.1f%%", rep.HeldOut, rep.Loss, rep.Perplexity, 100*rep.ExactMatch)
	if *base != "" {
		fmt.Fprintf(stdout, " (base %.1f%%)", 100*rep.BaseExactMatch)
	}
	fmt.Fprintln(stdout)
	for i, row := range rep.Rows {
		fmt.Fprintf(stdout, "\n[%d] %s\n  expected: %s\n", i+1, oneLine(row.Input), oneLine(row.Expected))
		if *base != "" {
			fmt.Fprintf(stdout, "  base:     %s\n", oneLine(row.Base))
		}
		fmt.Fprintf(stdout, "  model:    %s\n", oneLine(row.Trained))
	}
	return nil
}

func oneLine(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if r := []rune(s); len(r) > 160 {
		s = string(r[:157]) + "..."
	}
	return s
}
