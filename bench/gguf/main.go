// Command gguf measures golamini's decode speed on a real GGUF file (the
// runner loads it and dequantizes the weights to float32) and prints one JSON
// line; bench/gguf/run.sh runs it beside transformers loading the same file
// (hf_gguf.py) and llama.cpp running it as it is (llamacpp_gguf.py).
//
//	gguf -gguf FILE [-question TEXT] [-new-tokens 128] [-reps 2] [-threads N]
//	gguf -gguf FILE -sizes
//
// The prompt is the model's chat template (from the GGUF metadata) applied
// to one user question with the generation prompt, as transformers'
// apply_chat_template renders it. Decoding is greedy at batch 1 with the KV
// cache and does not stop at end-of-turn or EOS, so every run generates
// exactly -new-tokens tokens; tokens/s is those tokens over the wall time of
// the whole generation (prefill of the short prompt included), best of -reps
// after one short warm-up. The generated ids are printed so run.sh can check
// that all three implementations produce the same greedy tokens.
//
// -sizes prints the bytes of weights each implementation reads per decoded
// token, computed from the file's tensor table: llama.cpp reads each tensor's
// blocks as stored (quantized); golamini and transformers read every weight
// as float32. A tied output matrix is read once per token as the output
// projection; the embedding lookup reads a single row, left out.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/rs/zerolog"

	"github.com/golamini/golamini/internal/gguf"
	"github.com/golamini/golamini/runner"
)

// DefaultQuestion is the question the benchmark asks; SmolLM2-135M-Instruct
// answers it correctly with greedy decoding.
const DefaultQuestion = "What is the capital of France?"

func main() {
	path := flag.String("gguf", "", "the GGUF file")
	question := flag.String("question", DefaultQuestion, "the user turn the chat template is applied to")
	newTokens := flag.Int("new-tokens", 128, "tokens to generate")
	reps := flag.Int("reps", 2, "timed generations (best is reported)")
	threads := flag.Int("threads", 0, "libtorch intra-op threads (0: golamini's default)")
	sizes := flag.Bool("sizes", false, "print the weight bytes read per token instead of decoding")
	flag.Parse()
	if *path == "" {
		fmt.Fprintln(os.Stderr, "bench/gguf: -gguf FILE is required")
		os.Exit(2)
	}
	var out map[string]any
	var err error
	if *sizes {
		out, err = weightBytes(*path)
	} else {
		out, err = decode(*path, *question, *newTokens, *reps, *threads)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench/gguf:", err)
		os.Exit(1)
	}
	if err := json.NewEncoder(os.Stdout).Encode(out); err != nil {
		fmt.Fprintln(os.Stderr, "bench/gguf:", err)
		os.Exit(1)
	}
}

func weightBytes(path string) (map[string]any, error) {
	f, err := gguf.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var stored, elems int64
	types := map[string]int64{}
	for _, t := range f.Tensors {
		stored += t.NumBytes()
		elems += t.NumElements()
		types[t.Type.String()] += t.NumBytes()
	}
	return map[string]any{
		"file":                 path,
		"tensors":              len(f.Tensors),
		"weights":              elems,
		"quantized_bytes":      stored, // llama.cpp: the blocks as stored
		"fp32_bytes":           4 * elems,
		"quantized_bytes_type": types,
	}, nil
}

func decode(path, question string, newTokens, reps, threads int) (map[string]any, error) {
	ctx := context.Background()
	opts := []runner.Option{runner.WithLogger(zerolog.Nop()), runner.WithDType("float32")}
	if threads > 0 {
		opts = append(opts, runner.WithThreads(threads))
	}
	loadStart := time.Now()
	r, err := runner.New(path, opts...)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	loadS := time.Since(loadStart).Seconds()
	text, err := r.ChatPrompt([]runner.Message{{Role: "user", Content: question}}, runner.DefaultChatOptions())
	if err != nil {
		return nil, err
	}
	o := runner.DefaultGenerateOptions()
	o.MaxNewTokens, o.MaxInputTokens, o.StopAtEOS = newTokens, 0, false
	warm := o
	warm.MaxNewTokens = 8
	if _, err := r.Generate(ctx, []string{text}, warm); err != nil {
		return nil, err
	}
	best := 0.0
	var runs []float64
	var g runner.Generation
	for i := 0; i < reps; i++ {
		start := time.Now()
		gs, err := r.Generate(ctx, []string{text}, o)
		if err != nil {
			return nil, err
		}
		tps := float64(len(gs[0].NewIDs)) / time.Since(start).Seconds()
		if len(gs[0].NewIDs) != newTokens {
			return nil, fmt.Errorf("generated %d tokens, want %d", len(gs[0].NewIDs), newTokens)
		}
		g = gs[0]
		runs = append(runs, tps)
		best = max(best, tps)
	}
	return map[string]any{
		"impl": "golamini", "threads": threads, "load_s": loadS,
		"new_tokens": newTokens, "tokens_per_s": best, "runs": runs,
		"prompt_ids": g.PromptIDs, "new_ids": g.NewIDs,
		"text": r.Tokenizer().Decode(g.NewIDs, false),
	}, nil
}
