package main

import (
	"context"
	"fmt"
	"io"

	"github.com/golamini/golamini/runner"
)

func init() {
	register(command{name: "info", short: "describe a model: parameters, FLOPs, memory, module tree", run: runInfo})
}

func runInfo(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := newFlagSet("info", stderr)
	modelDir := fs.String("model", "", "model directory or hub id (config.json is enough)")
	tokens := fs.Int64("tokens", 8192, "tokens for the FLOPs figure (the course's 2048 × 4 accumulation steps)")
	dtype := fs.String("dtype", "float32", "dtype for the memory figure: float32, float16, bfloat16")
	asJSON := fs.Bool("json", false, "print one JSON object")
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
	rep, err := runner.Describe(dir, *tokens, *dtype)
	if err != nil {
		return err
	}
	if *asJSON {
		return writeJSON(stdout, rep)
	}
	fmt.Fprint(stdout, rep.Summary())
	fmt.Fprintln(stdout)
	fmt.Fprintln(stdout, rep.ModuleTree)
	return nil
}
