// Command infer shows text generation with a runner: greedy decoding with
// Infer, a batch with InferBatch, sampling options (temperature, top-k,
// top-p, repetition penalty, seed) with Generate, stop strings, and
// streaming with InferStream.
//
//	go run ./examples/infer
//	go run ./examples/infer -model EleutherAI/pythia-70m -prompt "The capital of France is"
//
// It uses testdata/models/demo by default (a tiny model the project
// pre-trained on its own prose), so the text is short and odd but readable.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"

	"github.com/rs/zerolog"

	"github.com/golamini/golamini/runner"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "infer:", err)
		os.Exit(1)
	}
}

// run parses args, loads the model and prints each form of generation to w.
func run(ctx context.Context, args []string, w io.Writer) error {
	fs := flag.NewFlagSet("infer", flag.ContinueOnError)
	model := fs.String("model", "testdata/models/demo", "model directory or hub id")
	prompt := fs.String("prompt", "golamini is", "prompt to continue")
	maxNew := fs.Int("max-new-tokens", 40, "most tokens generated per prompt")
	seed := fs.Uint64("seed", 7, "sampling seed")
	if err := fs.Parse(args); err != nil {
		return err
	}
	r, err := runner.NewContext(ctx, *model, runner.WithLogger(zerolog.Nop()))
	if err != nil {
		return err
	}
	defer r.Close()

	// 1. Greedy: the same text every time, like the course's inference helper.
	opts := runner.DefaultGenerateOptions()
	opts.MaxNewTokens = *maxNew
	greedy, err := r.InferBatch(ctx, []string{*prompt}, opts)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "greedy:    %q\n", greedy[0])

	// 2. A batch: prompts of different lengths are left-padded into one
	// batch; each gets what it would get alone.
	prompts := []string{*prompt, "How do I train a model?", "The runner"}
	batch, err := r.InferBatch(ctx, prompts, opts)
	if err != nil {
		return err
	}
	for i, p := range prompts {
		fmt.Fprintf(w, "batch[%d]:  %q -> %q\n", i, p, batch[i])
	}

	// 3. Sampling: temperature, top-k, top-p and a repetition penalty. The
	// same seed gives the same text; token ids come back too.
	sample := opts
	sample.Temperature, sample.TopK, sample.TopP, sample.RepetitionPenalty, sample.Seed = 0.8, 40, 0.95, 1.2, *seed
	gens, err := r.Generate(ctx, []string{*prompt}, sample)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "sampled:   %q (%d prompt tokens, %d new, stopped by %s)\n", gens[0].Text, len(gens[0].PromptIDs), len(gens[0].NewIDs), gens[0].Reason)
	again, err := r.Generate(ctx, []string{*prompt}, sample)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "same seed: %v\n", again[0].Text == gens[0].Text)

	// 4. Stop strings: generation ends at the first ".", which is cut off.
	stopAt := opts
	stopAt.StopStrings = []string{"."}
	cut, err := r.Generate(ctx, []string{*prompt}, stopAt)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "stop at .: %q (stopped by %s)\n", cut[0].Text, cut[0].Reason)

	// 5. Streaming: pieces arrive as soon as they decode to whole characters.
	fmt.Fprint(w, "stream:    ")
	var pieces []string
	full, err := r.InferStream(ctx, *prompt, opts, func(piece string) bool {
		pieces = append(pieces, piece)
		fmt.Fprint(w, piece)
		return true
	})
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "\nstream:    %d pieces, joined equal to the returned text: %v, to greedy: %v\n",
		len(pieces), strings.Join(pieces, "") == full, full == greedy[0])
	return nil
}
