package main

import (
	"encoding/json"
	"flag"
	"io"
	"os"

	"github.com/rs/zerolog"
	"golang.org/x/term"

	"github.com/golamini/golamini/runner"
)

// newLogger writes zerolog lines to stderr: human-readable on a terminal,
// JSON otherwise. --quiet keeps only warnings.
func newLogger(stderr io.Writer, quiet bool) zerolog.Logger {
	var w io.Writer = stderr
	if f, ok := stderr.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		w = zerolog.ConsoleWriter{Out: stderr, TimeFormat: "15:04:05"}
	}
	level := zerolog.InfoLevel
	if quiet {
		level = zerolog.WarnLevel
	}
	return zerolog.New(w).Level(level).With().Timestamp().Logger()
}

// writeJSON prints v as one line of JSON.
func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}

// samplingFlags defines the sampling flags that infer and chat share and
// returns a function that copies their parsed values into options.
func samplingFlags(fs *flag.FlagSet) func(o *runner.GenerateOptions) {
	temp := fs.Float64("temperature", 0, "sampling temperature; 0 is greedy")
	topK := fs.Int("top-k", 0, "sample from the K most likely tokens (0 = off)")
	topP := fs.Float64("top-p", 1, "nucleus sampling mass (1 = off)")
	rep := fs.Float64("repetition-penalty", 1, "penalty for repeated tokens (1 = off)")
	seed := fs.Uint64("seed", 0, "sampling seed")
	return func(o *runner.GenerateOptions) {
		o.Temperature, o.TopK, o.TopP, o.RepetitionPenalty, o.Seed = *temp, *topK, *topP, *rep, *seed
	}
}
