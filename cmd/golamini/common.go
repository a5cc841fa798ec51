package main

import (
	"encoding/json"
	"io"
	"os"

	"github.com/rs/zerolog"
	"golang.org/x/term"
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
