package data

import (
	"path/filepath"
	"reflect"
	"testing"

	"github.com/golamini/golamini/internal/tokenizer"
)

// pythia loads the shared Pythia tokenizer, skipping when it is absent.
func pythia(t *testing.T) *tokenizer.Tokenizer {
	t.Helper()
	tok, err := tokenizer.LoadFile(filepath.Join(sharedData(t), "pythia-tokenizer.json"))
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

type tokenizeGolden struct {
	Input      string `json:"input"`
	Output     string `json:"output"`
	Template   string `json:"template"`
	AppendEOS  bool   `json:"append_eos"`
	MaxLength  int    `json:"max_length"`
	InputIDs   []int  `json:"input_ids"`
	FullIDs    []int  `json:"full_ids"`
	FullLength int    `json:"full_length"`
	PromptIDs  []int  `json:"prompt_ids"`
}

// TestTokenizeMatchesTransformers tokenizes lamini rows with the real
// Pythia tokenizer and compares with transformers' tokenizer(text,
// truncation=True, max_length=L) with truncation_side="left" (goldens from
// data_goldens.py).
func TestTokenizeMatchesTransformers(t *testing.T) {
	tok := pythia(t)
	var g struct {
		Cases []tokenizeGolden `json:"cases"`
	}
	loadJSON(t, testdataPath(t, "tokenize_goldens.json"), &g)
	if len(g.Cases) == 0 {
		t.Fatal("no tokenize goldens")
	}
	masked, straddling := 0, 0
	for i, c := range g.Cases {
		opts := DefaultTokenizeOptions()
		opts.PromptTemplate, opts.AppendEOS, opts.MaxLength = c.Template, c.AppendEOS, c.MaxLength
		opts.AnswerOnlyLoss = true
		rows, err := Tokenize([]Example{{Input: c.Input, Output: c.Output}}, tok, opts)
		if err != nil {
			t.Fatal(err)
		}
		r := rows[0]
		if !reflect.DeepEqual(r.InputIDs, c.InputIDs) {
			t.Errorf("case %d (%q, template %q, eos %v, max %d): ids differ from transformers\n got %v\nwant %v",
				i, c.Input, c.Template, c.AppendEOS, c.MaxLength, r.InputIDs, c.InputIDs)
			continue
		}
		if r.Truncated != c.FullLength-len(c.InputIDs) {
			t.Errorf("case %d: truncated %d, want %d", i, r.Truncated, c.FullLength-len(c.InputIDs))
		}
		// Answer-only loss: the tokens transformers' prompt encoding shares
		// with its encoding of the whole text are masked, less those that
		// truncation removed. Usually that is the whole prompt; for a
		// prompt ending in spaces (lamini row 1385, "   " + "Did ...") the
		// space run merges with the answer and that token is learned.
		shared := commonPrefix(c.PromptIDs, c.FullIDs)
		if shared < len(c.PromptIDs) {
			straddling++
		}
		want := max(0, shared-r.Truncated)
		for j, l := range r.Labels {
			if (j < want) != (l == IgnoreIndex) || (l != IgnoreIndex && l != r.InputIDs[j]) {
				t.Errorf("case %d: label %d = %d with %d prompt tokens masked", i, j, l, want)
				break
			}
		}
		masked += want
	}
	if masked == 0 || straddling == 0 {
		t.Fatalf("goldens lack coverage: %d masked tokens, %d straddling prompts", masked, straddling)
	}
}

// TestLaminiTokenLengthsPadding tokenizes the lamini_docs training split
// with the Pythia tokenizer and measures how much padding each batching
// scheme costs: padding to the longest row of the data (the course), to the
// longest of shuffled batches, and of length-grouped batches.
func TestLaminiTokenLengthsPadding(t *testing.T) {
	tok := pythia(t)
	ex, _, err := ReadJSONLines(filepath.Join(sharedData(t), "lamini_docs_train.jsonl"), "question", "answer")
	if err != nil {
		t.Fatal(err)
	}
	rows, err := Tokenize(ex, tok, DefaultTokenizeOptions())
	if err != nil {
		t.Fatal(err)
	}
	lengths := Lengths(rows)
	total := 0
	for _, l := range lengths {
		total += l
	}
	if total < 100000 {
		t.Fatalf("only %d tokens in %d rows", total, len(rows))
	}
	measurePadding(t, "lamini_docs train, Pythia tokens", lengths, 0.15, 0.25)
}
