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
	"log"
	"os"
	"os/signal"
	"path/filepath"
	"strings"

	"github.com/rs/zerolog"

	"github.com/golamini/golamini/runner"
)

func main() {
	modelFlag := flag.String("model", "testdata/models/demo", "model directory or hub id")
	dataFlag := flag.String("data", "testdata/sdk_qa.jsonl", "JSON-lines question/answer data")
	inKey := flag.String("input-key", "question", "input key")
	outKey := flag.String("output-key", "answer", "output key")
	outDir := flag.String("output-dir", filepath.Join(os.TempDir(), "golamini-demo"), "checkpoints and the final model")
	lab := flag.Bool("lab", false, "use the course lab's TrainingArguments (3 steps of Adafactor at lr 1e-5)")
	show := flag.Int("show", 3, "held-out questions to show before and after")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	logger := zerolog.New(zerolog.ConsoleWriter{Out: os.Stderr, TimeFormat: "15:04:05"}).With().Timestamp().Logger()

	// 1. New: load the model.
	r, err := runner.New(*modelFlag, runner.WithLogger(logger))
	if err != nil {
		log.Fatal(err)
	}
	defer r.Close()
	rep := r.Report(2048 * 4)
	fmt.Printf("model %s: %d parameters, %.1f MB\n", *modelFlag, rep.Parameters, float64(rep.MemoryBytes)/1e6)

	// 2. LoadDataFromJSONLines: the question/answer pairs.
	if err := r.LoadDataFromJSONLines(*dataFlag, *inKey, *outKey); err != nil {
		log.Fatal(err)
	}

	cfg := runner.DefaultTrainConfig()
	a := &cfg.Args
	a.OutputDir, a.OverwriteOutputDir = *outDir, true
	if *lab { // the course's "Training process" lesson
		a.LearningRate, a.NumTrainEpochs, a.MaxSteps = 1e-5, 1, 3
		a.PerDeviceTrainBatchSize, a.GradientAccumulationStep, a.WarmupSteps = 1, 4, 1
		a.EvaluationStrategy, a.EvalSteps, a.SaveStrategy, a.SaveSteps = "steps", 120, "steps", 120
		a.LoggingSteps, a.Optim, a.LoadBestModelAtEnd, a.SaveTotalLimit = 1, "adafactor", true, 1
		a.GroupByLength, a.MaxGradNorm = false, 1.0
	} else { // a tiny model learns quickly with a large learning rate
		a.LearningRate, a.NumTrainEpochs, a.PerDeviceTrainBatchSize = 3e-3, 12, 8
		a.LRSchedulerType, a.WarmupSteps, a.WeightDecay = "cosine", 10, 0.01
		a.LoggingSteps, a.EvaluationStrategy, a.SaveStrategy = 10, "epoch", "no"
	}
	evalOpts := runner.DefaultEvaluateOptions()
	evalOpts.Data, evalOpts.CompareBase, evalOpts.Generate.MaxNewTokens = cfg.Data, false, 60
	trainOpts := evalOpts
	trainOpts.TrainingRows = true // how much of what it was taught the model reproduces

	before, err := r.EvaluateWith(ctx, evalOpts)
	if err != nil {
		log.Fatal(err)
	}
	beforeTrain, err := r.EvaluateWith(ctx, trainOpts)
	if err != nil {
		log.Fatal(err)
	}

	// 3. Train.
	res, err := r.TrainContext(ctx, cfg)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("\ntraining loss by logging step:")
	for _, e := range res.LogHistory {
		if e.Loss != nil {
			fmt.Printf(" %.3f", *e.Loss)
		}
	}
	fmt.Printf("\nheld-out loss: %.3f before, %.3f after\n", before.Loss, res.EvalLoss)

	after, err := r.EvaluateWith(ctx, evalOpts)
	if err != nil {
		log.Fatal(err)
	}
	afterTrain, err := r.EvaluateWith(ctx, trainOpts)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("exact match, %d held-out questions: %.0f%% before, %.0f%% after\n", after.HeldOut, 100*before.ExactMatch, 100*after.ExactMatch)
	fmt.Printf("exact match, %d training questions: %.0f%% before, %.0f%% after\n", afterTrain.HeldOut, 100*beforeTrain.ExactMatch, 100*afterTrain.ExactMatch)
	for i := 0; i < *show && i < len(after.Rows); i++ {
		fmt.Printf("\nQ: %s\n   expected: %s\n   before:   %s\n   after:    %s\n", after.Rows[i].Input, after.Rows[i].Expected,
			clean(before.Rows[i].Trained), clean(after.Rows[i].Trained))
	}
	q := "What is golamini?"
	answer, err := r.Infer(q)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("\nr.Infer(%q) = %q\nfinal model, trainer_state.json and loss_curve.png: %s\n", q, clean(answer), res.OutputDir)
}

func clean(s string) string { return strings.Join(strings.Fields(s), " ") }
