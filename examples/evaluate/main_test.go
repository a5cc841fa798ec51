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

	"github.com/golamini/golamini/internal/testutil"
)

// TestRun fine-tunes the demo model for 3 steps and checks the report:
// the held-out split of sdk_qa.jsonl, a finite loss, a table row per
// answered question, and the trained model written to the output dir.
func TestRun(t *testing.T) {
	out := t.TempDir()
	var buf bytes.Buffer
	args := []string{"-model", testutil.Testdata(t, "models", "demo"), "-data", testutil.Testdata(t, "sdk_qa.jsonl"),
		"-output-dir", out, "-max-steps", "3", "-rows", "2", "-max-new-tokens", "12"}
	if err := run(context.Background(), args, &buf); err != nil {
		t.Fatalf("run: %v\n%s", err, buf.String())
	}
	s := buf.String()
	t.Log("\n" + s)
	m := regexp.MustCompile(`held-out rows (\d+): loss ([0-9.]+), perplexity ([0-9.]+)`).FindStringSubmatch(s)
	if m == nil {
		t.Fatal("output lacks the held-out line")
	}
	// 121 pairs, 10% held out with the course's rounding: 13 rows.
	if m[1] != "13" {
		t.Errorf("held-out rows = %s, want 13", m[1])
	}
	if loss, _ := strconv.ParseFloat(m[2], 64); !(loss > 0 && loss < 20) {
		t.Errorf("held-out loss %s is not a plausible loss", m[2])
	}
	lines := strings.Split(strings.TrimSpace(s[strings.Index(s, "question  "):]), "\n")
	if len(lines) != 1+2 {
		t.Errorf("table has %d lines, want a header and 2 rows:\n%s", len(lines), strings.Join(lines, "\n"))
	}
	if _, err := os.Stat(filepath.Join(out, "config.json")); err != nil {
		t.Errorf("trained model not written: %v", err)
	}
}

func TestClip(t *testing.T) {
	if got := clip("a  b\nc", 10); got != "a b c" {
		t.Errorf("clip = %q", got)
	}
	if got := clip("ééééé", 3); got != "éé…" {
		t.Errorf("clip = %q", got)
	}
}
