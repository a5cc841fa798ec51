package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"

	"github.com/golamini/golamini/runner"
)

func init() {
	register(command{name: "serve", short: "serve the model over an OpenAI-compatible HTTP API", run: runServe})
}

func runServe(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := newFlagSet("serve", stderr)
	modelDir := fs.String("model", "", "model directory or hub id")
	name := fs.String("model-name", "", "the model's name in the API (default: --model as given)")
	host := fs.String("host", "127.0.0.1", "address to listen on (0.0.0.0 for every interface)")
	port := fs.Int("port", 8080, "port to listen on")
	apiKey := fs.String("api-key", "", `require "Authorization: Bearer KEY" on /v1/ requests`)
	d := runner.DefaultServeOptions()
	maxConc := fs.Int("max-concurrent", d.MaxConcurrent, "most requests waiting to join the batch; more get 429")
	maxBatch := fs.Int("max-batch", d.MaxBatch, "most sequences decoded together")
	chunk := fs.Int("prefill-chunk", d.PrefillChunk, "most prompt tokens run per step (short prompts waiting together share one pass, padding counted)")
	grace := fs.Duration("grace", d.ShutdownGrace, "on SIGTERM, how long running requests may finish")
	device := fs.String("device", "auto", "auto, cpu, cuda or cuda:N")
	dtype := fs.String("dtype", "float32", "float32, float16 or bfloat16")
	quiet := fs.Bool("quiet", false, "log warnings only")
	var adapters stringList
	fs.Var(&adapters, "adapter", "a PEFT LoRA adapter directory to serve too, under its directory's name (repeatable)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *modelDir == "" {
		return fmt.Errorf("%w: --model is required", errUsage)
	}
	if *port < 0 || *port > 65535 {
		return fmt.Errorf("%w: --port %d outside 0..65535", errUsage, *port)
	}
	if *maxConc < 1 || *maxBatch < 1 || *chunk < 1 {
		return fmt.Errorf("%w: --max-concurrent, --max-batch and --prefill-chunk must be ≥ 1", errUsage)
	}
	log := newLogger(stderr, *quiet)
	dir, err := resolveForInfo(ctx, *modelDir, stderr)
	if err != nil {
		return err
	}
	opts := []runner.Option{runner.WithDevice(*device), runner.WithDType(*dtype), runner.WithLogger(log)}
	for _, a := range adapters {
		opts = append(opts, runner.WithAdapter(a))
	}
	r, err := runner.NewContext(ctx, dir, opts...)
	if err != nil {
		return err
	}
	defer r.Close()
	o := runner.ServeOptions{ModelName: *name, APIKey: *apiKey, MaxConcurrent: *maxConc, MaxBatch: *maxBatch, PrefillChunk: *chunk, ShutdownGrace: *grace}
	if o.ModelName == "" {
		o.ModelName = *modelDir
	}
	return r.Serve(ctx, net.JoinHostPort(*host, strconv.Itoa(*port)), o)
}

// stringList is a repeatable string flag.
type stringList []string

func (l *stringList) String() string { return strings.Join(*l, ",") }

func (l *stringList) Set(v string) error {
	if v == "" {
		return fmt.Errorf("empty value")
	}
	*l = append(*l, v)
	return nil
}
