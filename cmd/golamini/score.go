package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"

	"github.com/golamini/golamini/runner"
)

func init() {
	register(command{name: "score", short: "per-token log-probabilities of JSON lines on stdin", run: runScore})
}

// scoreIn is one input line: {"text": "..."} or {"ids": [...]}.
type scoreIn struct {
	Text *string `json:"text"`
	IDs  []int   `json:"ids"`
}

// scoreOut is one output line; logprobs[i] = log p(ids[i+1] | ids[0..i]).
type scoreOut struct {
	IDs      []int     `json:"ids"`
	LogProbs []float64 `json:"logprobs"`
}

func runScore(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := newFlagSet("score", stderr)
	modelDir := fs.String("model", "", "model directory or hub id")
	device := fs.String("device", "auto", "auto, cpu, cuda or cuda:N")
	dtype := fs.String("dtype", "float32", "float32, float16 or bfloat16")
	quiet := fs.Bool("quiet", false, "log warnings only")
	adapter := fs.String("adapter", "", "a PEFT LoRA adapter directory to run the model with")
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
	r, err := runner.NewContext(ctx, dir, adapterOpts(*adapter, runner.WithDevice(*device), runner.WithDType(*dtype), runner.WithLogger(newLogger(stderr, *quiet)))...)
	if err != nil {
		return err
	}
	defer r.Close()
	in := bufio.NewReader(stdin)
	out := bufio.NewWriter(stdout)
	defer out.Flush()
	for line := 1; ; line++ {
		b, readErr := in.ReadBytes('\n')
		if len(trimSpace(b)) > 0 {
			var req scoreIn
			if err := json.Unmarshal(b, &req); err != nil {
				return fmt.Errorf("stdin line %d: %v", line, err)
			}
			var res scoreOut
			switch {
			case req.Text != nil && req.IDs != nil:
				return fmt.Errorf("stdin line %d: give \"text\" or \"ids\", not both", line)
			case req.Text != nil:
				res.IDs, res.LogProbs, err = r.ScoreText(ctx, *req.Text)
			case req.IDs != nil:
				res.IDs = req.IDs
				res.LogProbs, err = r.TokenLogProbs(ctx, req.IDs)
			default:
				return fmt.Errorf("stdin line %d: want an object with \"text\" or \"ids\"", line)
			}
			if err != nil {
				return fmt.Errorf("stdin line %d: %w", line, err)
			}
			if res.IDs == nil {
				res.IDs = []int{}
			}
			if err := writeJSON(out, res); err != nil {
				return err
			}
			if err := out.Flush(); err != nil {
				return err
			}
		}
		if readErr == io.EOF {
			return nil
		}
		if readErr != nil {
			return fmt.Errorf("stdin line %d: %w", line, readErr)
		}
	}
}

func trimSpace(b []byte) []byte {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\t' || b[0] == '\r' || b[0] == '\n') {
		b = b[1:]
	}
	for len(b) > 0 && (b[len(b)-1] == ' ' || b[len(b)-1] == '\t' || b[len(b)-1] == '\r' || b[len(b)-1] == '\n') {
		b = b[:len(b)-1]
	}
	return b
}
