// Command evaluate shows Lamini's evaluate(): after a short fine-tune it
// prints the held-out loss, perplexity and exact match, and a table of each
// held-out question with the expected answer, the base model's answer and
// the trained model's answer side by side.
//
//	go run ./examples/evaluate
//	go run ./examples/evaluate -epochs 12 -rows 12
//
// It fine-tunes testdata/models/demo on testdata/sdk_qa.jsonl (10% held out,
// seed 123, as the course splits) and writes the model under -output-dir.
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
	"text/tabwriter"

	"github.com/rs/zerolog"

	"github.com/golamini/golamini/runner"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "evaluate:", err)
		os.Exit(1)
	}
}

// run parses args, fine-tunes briefly and prints the evaluation to w.
func run(ctx context.Context, args []string, w io.Writer) error {
	fs := flag.NewFlagSet("evaluate", flag.ContinueOnError)
	model := fs.String("model", "testdata/models/demo", "model directory or hub id")
	dataPath := fs.String("data", "testdata/sdk_qa.jsonl", "JSON-lines question/answer data")
	inKey := fs.String("input-key", "question", "input key")
	outKey := fs.String("output-key", "answer", "output key")
	outDir := fs.String("output-dir", filepath.Join(os.TempDir(), "golamini-evaluate"), "where the trained model goes")
	epochs := fs.Float64("epochs", 4, "training epochs")
	maxSteps := fs.Int("max-steps", 0, "stop after this many steps (0 = run the epochs)")
	rows := fs.Int("rows", 5, "held-out questions to answer (0 = all)")
	maxNew := fs.Int("max-new-tokens", 40, "most tokens per answer")
	width := fs.Int("width", 48, "characters shown per answer in the table")
	if err := fs.Parse(args); err != nil {
		return err
	}
	r, err := runner.NewContext(ctx, *model, runner.WithLogger(zerolog.Nop()))
	if err != nil {
		return err
	}
	defer r.Close()
	if err := r.LoadDataFromJSONLines(*dataPath, *inKey, *outKey); err != nil {
		return err
	}

	cfg := runner.DefaultTrainConfig()
	a := &cfg.Args
	a.OutputDir, a.OverwriteOutputDir, a.NumTrainEpochs, a.MaxSteps = *outDir, true, *epochs, *maxSteps
	a.LearningRate, a.PerDeviceTrainBatchSize, a.LRSchedulerType, a.WarmupSteps = 3e-3, 8, "cosine", 5
	a.EvaluationStrategy, a.SaveStrategy, a.LoggingSteps = "no", "no", 5
	res, err := r.TrainContext(ctx, cfg)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "trained %d steps on %d rows; final training loss %.3f\n", res.Steps, res.TrainRows, res.TrainLoss)

	// Evaluate on the held-out split Train left out (same DataOptions).
	eo := runner.DefaultEvaluateOptions()
	eo.Data, eo.MaxRows, eo.Generate.MaxNewTokens, eo.CompareBase = cfg.Data, *rows, *maxNew, true
	rep, err := r.EvaluateWith(ctx, eo)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "held-out rows %d: loss %.3f, perplexity %.2f\n", rep.HeldOut, rep.Loss, rep.Perplexity)
	fmt.Fprintf(w, "exact match on %d answered: base %.0f%%, trained %.0f%%\n\n", len(rep.Rows), 100*rep.BaseExactMatch, 100*rep.ExactMatch)

	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "question\texpected\tbase\ttrained\tmatch")
	for _, row := range rep.Rows {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%v\n", clip(row.Input, *width), clip(row.Expected, *width),
			clip(row.Base, *width), clip(row.Trained, *width), row.Match)
	}
	return tw.Flush()
}

// clip puts s on one line and shortens it to n characters.
func clip(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if r := []rune(s); len(r) > n {
		return string(r[:n-1]) + "…"
	}
	return s
}
