// Command score shows scoring with a runner: the log-likelihood of each
// choice of a multiple-choice question, as lm-evaluation-harness scores
// ARC (acc: the highest log p(choice | question); acc_norm: the highest
// log-likelihood per byte of the choice), and per-token log-probabilities
// and perplexity of a text with ScoreText.
//
//	go run ./examples/score
//	go run ./examples/score -model EleutherAI/pythia-70m -data arc.jsonl
//
// -data reads JSON lines {"question": "...", "choices": ["...", ...],
// "answer": 0} (answer is the index of the right choice); without it a few
// questions about this SDK's own documentation are used, which the demo
// model (testdata/models/demo) was pre-trained on.
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"os/signal"
	"strings"

	"github.com/rs/zerolog"

	"github.com/golamini/golamini/runner"
)

// Question is one multiple-choice item, ARC style.
type Question struct {
	Question string   `json:"question"`
	Choices  []string `json:"choices"`
	Answer   int      `json:"answer"` // index into Choices
}

// builtin questions come from the prose in testdata/corpus.
var builtin = []Question{
	{"golamini talks to libtorch through which bindings?", []string{"gotch", "pybind11", "TensorFlow", "JNI"}, 0},
	{"A Go function that can fail returns an error as which of its results?", []string{"its first", "its last", "its only", "its second"}, 1},
	{"A slice is a pointer, a length and a what?", []string{"channel", "mutex", "capacity", "map"}, 2},
	{"The Pythia tokenizer is a byte-level byte-pair encoding with how many ids?", []string{"1,024", "32,000", "250,000", "50,277"}, 3},
}

// natural is a sentence from testdata/corpus; its words reversed make a
// text the model should find far less likely.
const natural = "The tokenizer turns text into a list of integer ids and back again."

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "score:", err)
		os.Exit(1)
	}
}

// run parses args, scores the questions and a text, and prints to w.
func run(ctx context.Context, args []string, w io.Writer) error {
	fs := flag.NewFlagSet("score", flag.ContinueOnError)
	model := fs.String("model", "testdata/models/demo", "model directory or hub id")
	dataPath := fs.String("data", "", "JSON lines of {question, choices, answer}; empty = built-in questions")
	text := fs.String("text", natural, "text to score token by token")
	if err := fs.Parse(args); err != nil {
		return err
	}
	qs := builtin
	if *dataPath != "" {
		var err error
		if qs, err = readQuestions(*dataPath); err != nil {
			return err
		}
	}
	r, err := runner.NewContext(ctx, *model, runner.WithLogger(zerolog.Nop()))
	if err != nil {
		return err
	}
	defer r.Close()

	// Multiple choice: score " choice" after "Question: ...\nAnswer:".
	var acc, accNorm int
	for i, q := range qs {
		prompt := "Question: " + q.Question + "\nAnswer:"
		fmt.Fprintf(w, "Q%d %s\n", i+1, q.Question)
		best, bestNorm := -1, -1
		var bestLL, bestNormLL float64
		for j, c := range q.Choices {
			ll, greedy, err := r.LogLikelihood(ctx, prompt, " "+c)
			if err != nil {
				return fmt.Errorf("question %d choice %d: %w", i+1, j, err)
			}
			norm := ll / float64(len(" "+c))
			if best < 0 || ll > bestLL {
				best, bestLL = j, ll
			}
			if bestNorm < 0 || norm > bestNormLL {
				bestNorm, bestNormLL = j, norm
			}
			mark := " "
			if j == q.Answer {
				mark = "*"
			}
			fmt.Fprintf(w, "  %s %-12s loglik %8.3f  per byte %7.3f  greedy %v\n", mark, c, ll, norm, greedy)
		}
		fmt.Fprintf(w, "  picked %q (acc), %q (acc_norm)\n", q.Choices[best], q.Choices[bestNorm])
		if best == q.Answer {
			acc++
		}
		if bestNorm == q.Answer {
			accNorm++
		}
	}
	fmt.Fprintf(w, "acc %d/%d, acc_norm %d/%d\n\n", acc, len(qs), accNorm, len(qs))

	// Token by token: log p(token | the tokens before it).
	ids, lps, err := r.ScoreText(ctx, *text)
	if err != nil {
		return err
	}
	for i, lp := range lps {
		fmt.Fprintf(w, "  %-14q %8.3f\n", r.Tokenizer().Decode(ids[i+1:i+2], false), lp)
	}
	ppl, err := perplexity(ctx, r, *text)
	if err != nil {
		return err
	}
	words := strings.Fields(*text)
	for i, j := 0, len(words)-1; i < j; i, j = i+1, j-1 {
		words[i], words[j] = words[j], words[i]
	}
	reversed := strings.Join(words, " ")
	pplRev, err := perplexity(ctx, r, reversed)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "perplexity: %.2f for the text, %.2f with its words reversed\n", ppl, pplRev)
	return nil
}

// perplexity is exp of the mean negative log-probability of text's tokens
// after the first.
func perplexity(ctx context.Context, r *runner.Runner, text string) (float64, error) {
	_, lps, err := r.ScoreText(ctx, text)
	if err != nil {
		return 0, err
	}
	if len(lps) == 0 {
		return 0, errors.New("text is a single token: nothing to score")
	}
	var sum float64
	for _, lp := range lps {
		sum += lp
	}
	return math.Exp(-sum / float64(len(lps))), nil
}

// readQuestions reads JSON lines of Question, naming the file and line of
// any problem.
func readQuestions(path string) ([]Question, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var qs []Question
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64*1024), 16*1024*1024)
	for line := 1; sc.Scan(); line++ {
		b := strings.TrimSpace(sc.Text())
		if b == "" {
			continue
		}
		var q Question
		if err := json.Unmarshal([]byte(b), &q); err != nil {
			return nil, fmt.Errorf("%s:%d: %w", path, line, err)
		}
		switch {
		case q.Question == "":
			return nil, fmt.Errorf("%s:%d: empty \"question\"", path, line)
		case len(q.Choices) < 2:
			return nil, fmt.Errorf("%s:%d: \"choices\" needs at least 2 entries, got %d", path, line, len(q.Choices))
		case q.Answer < 0 || q.Answer >= len(q.Choices):
			return nil, fmt.Errorf("%s:%d: \"answer\" %d is not an index into %d choices", path, line, q.Answer, len(q.Choices))
		}
		qs = append(qs, q)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if len(qs) == 0 {
		return nil, fmt.Errorf("%s: no questions", path)
	}
	return qs, nil
}
