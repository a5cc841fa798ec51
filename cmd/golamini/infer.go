package main

import (
	"context"
	"fmt"
	"io"

	"github.com/golamini/golamini/runner"
)

func init() {
	register(command{name: "infer", short: "generate a continuation of a prompt", run: runInfer})
}

func runInfer(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := newFlagSet("infer", stderr)
	modelDir := fs.String("model", "", "model directory or hub id")
	prompt := fs.String("prompt", "", "prompt text")
	d := runner.DefaultGenerateOptions()
	maxNew := fs.Int("max-new-tokens", d.MaxNewTokens, "most tokens to generate")
	maxIn := fs.Int("max-input-tokens", d.MaxInputTokens, "truncate the prompt from the left to this many tokens")
	sampling := samplingFlags(fs)
	noEOS := fs.Bool("ignore-eos", false, "keep generating past the end-of-text token")
	device := fs.String("device", "auto", "auto, cpu, cuda or cuda:N")
	dtype := fs.String("dtype", "float32", "float32, float16 or bfloat16")
	stream := fs.Bool("stream", false, "print text as it is generated")
	asJSON := fs.Bool("json", false, `print {"prompt_ids": [...], "new_ids": [...], "text": "..."}`)
	quiet := fs.Bool("quiet", false, "log warnings only")
	adapter := fs.String("adapter", "", "a PEFT LoRA adapter directory to run the model with")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *modelDir == "" {
		return fmt.Errorf("%w: --model is required", errUsage)
	}
	log := newLogger(stderr, *quiet)
	dir, err := resolveForInfo(ctx, *modelDir, stderr)
	if err != nil {
		return err
	}
	r, err := runner.NewContext(ctx, dir, adapterOpts(*adapter, runner.WithDevice(*device), runner.WithDType(*dtype), runner.WithLogger(log))...)
	if err != nil {
		return err
	}
	defer r.Close()
	o := runner.GenerateOptions{MaxNewTokens: *maxNew, MaxInputTokens: *maxIn, StopAtEOS: !*noEOS}
	sampling(&o)
	if *stream && !*asJSON {
		_, err := r.InferStream(ctx, *prompt, o, func(p string) bool { fmt.Fprint(stdout, p); return true })
		fmt.Fprintln(stdout)
		return err
	}
	gens, err := r.Generate(ctx, []string{*prompt}, o)
	if err != nil {
		return err
	}
	g := gens[0]
	if *asJSON {
		return writeJSON(stdout, g)
	}
	fmt.Fprintln(stdout, g.Text)
	return nil
}
