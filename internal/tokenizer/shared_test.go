package tokenizer

import (
	"bufio"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sync"
	"testing"

	"golang.org/x/text/unicode/norm"

	"github.com/golamini/golamini/internal/testutil"
)

// caseRow is a row of the shared reference files: {"text", "ids"} made by
// Hugging Face's tokenizers engine with the Pythia tokenizer.
type caseRow struct {
	Text string `json:"text"`
	IDs  []int  `json:"ids"`
}

func readCases(t testing.TB, path string) []caseRow {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var rows []caseRow
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<26)
	for n := 1; sc.Scan(); n++ {
		var r caseRow
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatalf("%s line %d: %v", path, n, err)
		}
		rows = append(rows, r)
	}
	if err := sc.Err(); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return rows
}

var (
	pythiaOnce sync.Once
	pythiaTok  *Tokenizer
	pythiaErr  error
)

func pythia(t testing.TB) *Tokenizer {
	t.Helper()
	path := sharedFile(t, "pythia-tokenizer.json")
	pythiaOnce.Do(func() { pythiaTok, pythiaErr = LoadFile(path) })
	if pythiaErr != nil {
		t.Fatal(pythiaErr)
	}
	return pythiaTok
}

func checkCases(t *testing.T, tok *Tokenizer, rows []caseRow) {
	t.Helper()
	bad := 0
	for i, r := range rows {
		got := tok.Encode(r.Text)
		if !slices.Equal(got, r.IDs) {
			bad++
			if bad <= 10 {
				t.Errorf("row %d %q:\n got  %v\n want %v", i, trunc(r.Text), got, r.IDs)
			}
		}
		if dec, want := tok.Decode(r.IDs, false), norm.NFC.String(r.Text); dec != want {
			bad++
			if bad <= 10 {
				t.Errorf("row %d: Decode = %q, want NFC(text) %q", i, trunc(dec), trunc(want))
			}
		}
	}
	if bad > 0 {
		t.Errorf("%d mismatches in %d rows", bad, len(rows))
	}
}

func trunc(s string) string {
	if len(s) > 200 {
		return s[:200] + "…"
	}
	return s
}

// TestPythiaSharedCases: the 41 reference cases of ../shared/data/tokenizer-cases.jsonl.
func TestPythiaSharedCases(t *testing.T) {
	rows := readCases(t, sharedFile(t, "tokenizer-cases.jsonl"))
	if len(rows) != 41 {
		t.Fatalf("want 41 cases, read %d", len(rows))
	}
	checkCases(t, pythia(t), rows)
}

// TestPythiaLaminiQA: the 1,400 question+answer texts of lamini_docs (the
// course's concatenation, no template) encoded by HF tokenizers. The shared
// folder's lamini-qa-tokenizer-cases.jsonl holds them where it exists;
// otherwise HF tokenizers in the light test venv ($GOLAMINI_PYTHON, which
// make test sets) encodes lamini_docs.jsonl here.
func TestPythiaLaminiQA(t *testing.T) {
	var rows []caseRow
	if p := filepath.Join(filepath.Dir(sharedFile(t, "lamini_docs.jsonl")), "lamini-qa-tokenizer-cases.jsonl"); fileExists(p) {
		rows = readCases(t, p)
	} else {
		rows = laminiQAFromHF(t)
	}
	if len(rows) != 1400 {
		t.Fatalf("want 1400 rows, read %d", len(rows))
	}
	checkCases(t, pythia(t), rows)
}

func fileExists(p string) bool { _, err := os.Stat(p); return err == nil }

// laminiQAFromHF encodes question+answer of every lamini_docs row with HF
// tokenizers' Tokenizer.from_file(pythia-tokenizer.json), without special
// tokens, as the shared cases file was made.
func laminiQAFromHF(t *testing.T) []caseRow {
	t.Helper()
	py := os.Getenv("GOLAMINI_PYTHON")
	if py == "" {
		testutil.Missing(t, "lamini-qa-tokenizer-cases.jsonl is absent and GOLAMINI_PYTHON (a Python with tokenizers; make test sets it) is not set")
	}
	script := `
import json, sys
from tokenizers import Tokenizer
tok = Tokenizer.from_file(sys.argv[1])
for line in open(sys.argv[2], encoding="utf-8"):
    r = json.loads(line)
    text = r["question"] + r["answer"]
    print(json.dumps({"text": text, "ids": tok.encode(text, add_special_tokens=False).ids}))
`
	out, err := exec.Command(py, "-c", script, sharedFile(t, "pythia-tokenizer.json"), sharedFile(t, "lamini_docs.jsonl")).Output()
	if err != nil {
		testutil.Missing(t, "HF tokenizers via %s: %v", py, err)
	}
	f := filepath.Join(t.TempDir(), "lamini-qa.jsonl")
	if err := os.WriteFile(f, out, 0o644); err != nil {
		t.Fatal(err)
	}
	return readCases(t, f)
}
