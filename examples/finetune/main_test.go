package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/rs/zerolog"

	"github.com/golamini/golamini/internal/testutil"
	"github.com/golamini/golamini/runner"
)

// TestRun runs the README's main job shortened (6 steps, 2 answers per
// evaluation) and checks what it promises: the held-out loss goes down, the
// before/after lines are printed, and output_dir holds a model that loads
// again, its trainer_state.json and loss_curve.png.
func TestRun(t *testing.T) {
	out := t.TempDir()
	var stdout, stderr bytes.Buffer
	args := []string{"-model", testutil.Testdata(t, "models", "demo"), "-data", testutil.Testdata(t, "sdk_qa.jsonl"),
		"-output-dir", out, "-max-steps", "6", "-eval-rows", "2", "-max-new-tokens", "12", "-show", "1"}
	if err := run(context.Background(), args, &stdout, &stderr); err != nil {
		t.Fatalf("run: %v\nstdout:\n%s\nstderr:\n%s", err, stdout.String(), stderr.String())
	}
	s := stdout.String()
	t.Log("\n" + s)

	m := regexp.MustCompile(`held-out loss: ([0-9.]+) before, ([0-9.]+) after`).FindStringSubmatch(s)
	if m == nil {
		t.Fatal("output lacks the held-out loss line")
	}
	before, _ := strconv.ParseFloat(m[1], 64)
	after, _ := strconv.ParseFloat(m[2], 64)
	if !(after < before) {
		t.Errorf("held-out loss did not go down: %v before, %v after", before, after)
	}
	for _, want := range []string{"exact match, 13 held-out questions:", "\nQ: ", "   before:   ", "   after:    ", `r.Infer("What is golamini?") = `} {
		if !strings.Contains(s, want) {
			t.Errorf("output lacks %q", want)
		}
	}
	if !strings.Contains(stderr.String(), "tokenized data") {
		t.Errorf("the log on stderr lacks the tokenized-data line:\n%s", stderr.String())
	}
	for _, f := range []string{"config.json", "model.safetensors", "tokenizer.json", "trainer_state.json", "loss_curve.png"} {
		if _, err := os.Stat(filepath.Join(out, f)); err != nil {
			t.Errorf("output dir: %v", err)
		}
	}
	png, err := os.ReadFile(filepath.Join(out, "loss_curve.png"))
	if err == nil && !bytes.HasPrefix(png, []byte("\x89PNG\r\n\x1a\n")) {
		t.Errorf("loss_curve.png is not a PNG")
	}
	r, err := runner.New(out, runner.WithLogger(zerolog.Nop()))
	if err != nil {
		t.Fatalf("reload the trained model: %v", err)
	}
	defer r.Close()
	if _, err := r.Infer("What is golamini?"); err != nil {
		t.Errorf("infer with the reloaded model: %v", err)
	}
}

func TestRunBadFlag(t *testing.T) {
	if err := run(context.Background(), []string{"-no-such-flag"}, &bytes.Buffer{}, &bytes.Buffer{}); err == nil {
		t.Fatal("an unknown flag was accepted")
	}
}

// TestRunFallsBackOffline: without -model the program fetches the real
// SmolLM2 with scripts/smollm2-gguf; where that is impossible (here: an
// empty cache and no python to download with) it says why and trains the
// tiny model kept in the repository instead.
func TestRunFallsBackOffline(t *testing.T) {
	t.Chdir(filepath.Join("..", ".."))
	t.Setenv("GOLAMINI_CACHE", t.TempDir())
	t.Setenv("PYTHON", filepath.Join(t.TempDir(), "no-python"))
	var stdout, stderr bytes.Buffer
	args := []string{"-output-dir", t.TempDir(), "-max-steps", "2", "-eval-rows", "1", "-max-new-tokens", "4", "-show", "1"}
	if err := run(context.Background(), args, &stdout, &stderr); err != nil {
		t.Fatalf("run: %v\nstdout:\n%s\nstderr:\n%s", err, stdout.String(), stderr.String())
	}
	s := stdout.String()
	for _, want := range []string{"the real SmolLM2-135M-Instruct is not available (scripts/smollm2-gguf: smollm2-gguf: python3 with pip is needed",
		"falling back to the tiny model in testdata/models/demo", "model testdata/models/demo: ", "held-out loss: "} {
		if !strings.Contains(s, want) {
			t.Errorf("output lacks %q:\n%s", want, s)
		}
	}
}
