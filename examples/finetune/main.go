// Command finetune is the README's main job: the three calls — New,
// LoadDataFromJSONLines, Train — on the tiny GPT-NeoX checkpoint kept in the
// repository (testdata/models/demo: the project's own tokenizer, weights
// briefly pre-trained on text the project wrote) and a small question/answer
// set about this SDK (testdata/sdk_qa.jsonl). No network is needed. It
// prints the loss going down, exact match before and after, and a few
// answers before and after.
//
// The same program reproduces the course lab with a hub model and lamini_docs
// where the HuggingFace hub is reachable:
//
//	go run ./examples/finetune -model EleutherAI/pythia-70m -data lamini_docs.jsonl -lab
//
// Ctrl-C stops training at the next step and saves a checkpoint; running
// again resumes.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"

	"github.com/rs/zerolog"

	"github.com/golamini/golamini/runner"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "finetune:", err)
		os.Exit(1)
	}
}

// run is the whole job: flags from args, results on stdout, logs on stderr.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("finetune", flag.ContinueOnError)
	fs.SetOutput(stderr)
	modelFlag := fs.String("model", "testdata/models/demo", "model directory or hub id")
	dataFlag := fs.String("data", "testdata/sdk_qa.jsonl", "JSON-lines question/answer data")
	inKey := fs.String("input-key", "question", "input key")
	outKey := fs.String("output-key", "answer", "output key")
	outDir := fs.String("output-dir", filepath.Join(os.TempDir(), "golamini-demo"), "checkpoints and the final model")
	lab := fs.Bool("lab", false, "use the course lab's TrainingArguments (3 steps of Adafactor at lr 1e-5)")
	show := fs.Int("show", 3, "held-out questions to show before and after")
	epochs := fs.Float64("epochs", 0, "training epochs (0 = 12, or 1 with -lab)")
	maxSteps := fs.Int("max-steps", 0, "stop after this many optimizer steps (0 = 3 with -lab, else run the epochs)")
	evalRows := fs.Int("eval-rows", 0, "questions answered per evaluation (0 = all)")
	maxNew := fs.Int("max-new-tokens", 60, "most tokens per generated answer")
	if err := fs.Parse(args); err != nil {
		return err
	}
	logger := zerolog.New(zerolog.ConsoleWriter{Out: stderr, TimeFormat: "15:04:05"}).With().Timestamp().Logger()

	// 1. New: load the model.
	r, err := runner.NewContext(ctx, *modelFlag, runner.WithLogger(logger))
	if err != nil {
		return err
	}
	defer r.Close()
	rep := r.Report(2048 * 4)
	fmt.Fprintf(stdout, "model %s: %d parameters, %.1f MB\n", *modelFlag, rep.Parameters, float64(rep.MemoryBytes)/1e6)

	// 2. LoadDataFromJSONLines: the question/answer pairs.
	if err := r.LoadDataFromJSONLines(*dataFlag, *inKey, *outKey); err != nil {
		return err
	}

	cfg := runner.DefaultTrainConfig()
	a := &cfg.Args
	a.OutputDir, a.OverwriteOutputDir = *outDir, true
	if *lab { // the course's "Training process" lesson
		a.LearningRate, a.NumTrainEpochs, a.MaxSteps = 1e-5, 1, 3
		a.PerDeviceTrainBatchSize, a.GradientAccumulationStep, a.WarmupSteps = 1, 4, 1
		a.EvaluationStrategy, a.EvalSteps, a.SaveStrategy, a.SaveSteps = "steps", 120, "steps", 120
		a.LoggingSteps, a.Optim, a.LoadBestModelAtEnd, a.SaveTotalLimit = 1, "adafactor", true, 1
		a.GroupByLength, a.MaxGradNorm = new(bool), 1.0 // new(bool): grouping off
	} else { // a tiny model learns quickly with a large learning rate
		a.LearningRate, a.NumTrainEpochs, a.PerDeviceTrainBatchSize = 3e-3, 12, 8
		a.LRSchedulerType, a.WarmupSteps, a.WeightDecay = "cosine", 10, 0.01
		a.LoggingSteps, a.EvaluationStrategy, a.SaveStrategy = 10, "epoch", "no"
	}
	if *epochs > 0 {
		a.NumTrainEpochs = *epochs
	}
	if *maxSteps > 0 {
		a.MaxSteps = *maxSteps
	}
	evalOpts := runner.DefaultEvaluateOptions()
	evalOpts.Data, evalOpts.CompareBase, evalOpts.Generate.MaxNewTokens, evalOpts.MaxRows = cfg.Data, false, *maxNew, *evalRows
	trainOpts := evalOpts
	trainOpts.TrainingRows = true // how much of what it was taught the model reproduces

	before, err := r.EvaluateWith(ctx, evalOpts)
	if err != nil {
		return err
	}
	beforeTrain, err := r.EvaluateWith(ctx, trainOpts)
	if err != nil {
		return err
	}

	// 3. Train.
	res, err := r.TrainContext(ctx, cfg)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "\ntraining loss by logging step:")
	for _, e := range res.LogHistory {
		if e.Loss != nil {
			fmt.Fprintf(stdout, " %.3f", *e.Loss)
		}
	}

	after, err := r.EvaluateWith(ctx, evalOpts)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "\nheld-out loss: %.3f before, %.3f after\n", before.Loss, after.Loss)
	afterTrain, err := r.EvaluateWith(ctx, trainOpts)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "exact match, %d held-out questions: %.0f%% before, %.0f%% after\n", after.HeldOut, 100*before.ExactMatch, 100*after.ExactMatch)
	fmt.Fprintf(stdout, "exact match, %d training questions: %.0f%% before, %.0f%% after\n", afterTrain.HeldOut, 100*beforeTrain.ExactMatch, 100*afterTrain.ExactMatch)
	for i := 0; i < *show && i < len(after.Rows); i++ {
		fmt.Fprintf(stdout, "\nQ: %s\n   expected: %s\n   before:   %s\n   after:    %s\n", after.Rows[i].Input, after.Rows[i].Expected,
			clean(before.Rows[i].Trained), clean(after.Rows[i].Trained))
	}
	q := "What is golamini?"
	answer, err := r.Infer(q)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "\nr.Infer(%q) = %q\nfinal model, trainer_state.json and loss_curve.png: %s\n", q, clean(answer), res.OutputDir)
	return nil
}

func clean(s string) string { return strings.Join(strings.Fields(s), " ") }
