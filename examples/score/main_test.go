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

// TestRun scores the built-in questions with the demo model and checks
// that each pick is the best-scored choice and that the model, pre-trained
// on the corpus the sentence comes from, finds it more likely than the
// same words reversed.
func TestRun(t *testing.T) {
	var buf bytes.Buffer
	if err := run(context.Background(), []string{"-model", testutil.Testdata(t, "models", "demo")}, &buf); err != nil {
		t.Fatalf("run: %v\n%s", err, buf.String())
	}
	s := buf.String()
	t.Log("\n" + s)

	choice := regexp.MustCompile(`^  [ *] (.+?) +loglik +(-?[0-9.]+)  per byte +(-?[0-9.]+)  greedy (true|false)$`)
	picked := regexp.MustCompile(`^  picked "(.*)" \(acc\), "(.*)" \(acc_norm\)$`)
	var best, bestNorm string
	var bestLL, bestNormLL float64
	questions := 0
	for _, line := range strings.Split(s, "\n") {
		if m := choice.FindStringSubmatch(line); m != nil {
			ll, _ := strconv.ParseFloat(m[2], 64)
			norm, _ := strconv.ParseFloat(m[3], 64)
			if ll >= 0 {
				t.Errorf("log-likelihood %v of %q is not negative", ll, m[1])
			}
			if best == "" || ll > bestLL {
				best, bestLL = m[1], ll
			}
			if bestNorm == "" || norm > bestNormLL {
				bestNorm, bestNormLL = m[1], norm
			}
			continue
		}
		if m := picked.FindStringSubmatch(line); m != nil {
			questions++
			if m[1] != best || m[2] != bestNorm {
				t.Errorf("question %d: picked %q/%q, best scored %q/%q", questions, m[1], m[2], best, bestNorm)
			}
			best, bestNorm = "", ""
		}
	}
	if questions != len(builtin) {
		t.Errorf("%d questions scored, want %d", questions, len(builtin))
	}
	m := regexp.MustCompile(`perplexity: ([0-9.]+) for the text, ([0-9.]+) with its words reversed`).FindStringSubmatch(s)
	if m == nil {
		t.Fatal("output lacks the perplexity line")
	}
	ppl, _ := strconv.ParseFloat(m[1], 64)
	rev, _ := strconv.ParseFloat(m[2], 64)
	if !(ppl > 1 && ppl < rev) {
		t.Errorf("perplexity %v of the corpus sentence should be above 1 and below %v (reversed)", ppl, rev)
	}
}

func TestReadQuestions(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.jsonl")
	os.WriteFile(good, []byte(`{"question": "2+2?", "choices": ["3", "4"], "answer": 1}`+"\n\n"+
		`{"question": "Sky?", "choices": ["blue", "green", "red"], "answer": 0}`), 0o644)
	qs, err := readQuestions(good)
	if err != nil || len(qs) != 2 || qs[1].Choices[0] != "blue" || qs[0].Answer != 1 {
		t.Fatalf("readQuestions = %+v, %v", qs, err)
	}
	for name, tc := range map[string]struct{ body, want string }{
		"json":    {"{\"question\": \"a\", \"choices\": [\"x\", \"y\"]}\n{oops}\n", "bad.jsonl:2: invalid character"},
		"answer":  {`{"question": "a", "choices": ["x", "y"], "answer": 2}`, `bad.jsonl:1: "answer" 2 is not an index into 2 choices`},
		"choices": {`{"question": "a", "choices": ["x"]}`, `bad.jsonl:1: "choices" needs at least 2 entries, got 1`},
		"empty":   {"\n\n", "bad.jsonl: no questions"},
	} {
		p := filepath.Join(dir, "bad.jsonl")
		os.WriteFile(p, []byte(tc.body), 0o644)
		if _, err := readQuestions(p); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want it to contain %q", name, err, tc.want)
		}
	}
}
