// Package tokenizerbench measures the Go tokenizer against Hugging Face
// tokenizers on the 1,400 question+answer texts of lamini_docs (run.sh runs
// both and prints the ratio; hf_bench.py is the Python side).
package tokenizerbench

import (
	"bufio"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"syscall"
	"testing"
	"time"

	"github.com/golamini/golamini/internal/tokenizer"
)

// sharedData returns a file of the shared data folder or skips.
func sharedData(tb testing.TB, name string) string {
	tb.Helper()
	dir := os.Getenv("GOLAMINI_SHARED")
	if dir == "" {
		wd, _ := os.Getwd()
		for d := wd; ; d = filepath.Dir(d) {
			if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
				dir = filepath.Join(d, "..", "shared")
				break
			}
			if filepath.Dir(d) == d {
				tb.Fatal("go.mod not found")
			}
		}
	}
	p := filepath.Join(dir, "data", name)
	if _, err := os.Stat(p); err != nil {
		tb.Skipf("shared data %s not available (set GOLAMINI_SHARED): %v", p, err)
	}
	return p
}

// laminiTexts returns question+answer for each row of lamini_docs.jsonl.
func laminiTexts(tb testing.TB) []string {
	path := sharedData(tb, "lamini_docs.jsonl")
	f, err := os.Open(path)
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	var texts []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<24)
	for n := 1; sc.Scan(); n++ {
		var r struct{ Question, Answer string }
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			tb.Fatalf("%s line %d: %v", path, n, err)
		}
		texts = append(texts, r.Question+r.Answer)
	}
	if len(texts) != 1400 {
		tb.Fatalf("%s: %d rows, want 1400", path, len(texts))
	}
	return texts
}

func pythia(tb testing.TB) *tokenizer.Tokenizer {
	tok, err := tokenizer.LoadFile(sharedData(tb, "pythia-tokenizer.json"))
	if err != nil {
		tb.Fatal(err)
	}
	return tok
}

func totalTokens(tok *tokenizer.Tokenizer, texts []string) int {
	n := 0
	for _, s := range texts {
		n += len(tok.Encode(s))
	}
	return n
}

// BenchmarkEncodeOneAtATime: one op = the 1,400 texts encoded one by one.
func BenchmarkEncodeOneAtATime(b *testing.B) {
	tok, texts := pythia(b), laminiTexts(b)
	tokens := totalTokens(tok, texts)
	cpu0 := cpuTime()
	for b.Loop() {
		for _, s := range texts {
			tok.Encode(s)
		}
	}
	b.ReportMetric(float64(tokens), "tokens/op")
	b.ReportMetric(float64(cpuTime()-cpu0)/float64(b.N), "cpu-ns/op")
}

// BenchmarkEncodeBatch: one op = EncodeBatch of the 1,400 texts (GOMAXPROCS goroutines).
func BenchmarkEncodeBatch(b *testing.B) {
	tok, texts := pythia(b), laminiTexts(b)
	totalTokens(tok, texts) // warm the word cache, as BenchmarkEncodeOneAtATime does
	cpu0 := cpuTime()
	for b.Loop() {
		tok.EncodeBatch(texts)
	}
	b.ReportMetric(float64(cpuTime()-cpu0)/float64(b.N), "cpu-ns/op")
}

// cpuTime is the process's user+system CPU time: on a shared, busy machine it
// measures the work done better than wall-clock time.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkLoad: reading the 2.5 MB Pythia tokenizer.json.
func BenchmarkLoad(b *testing.B) {
	path := sharedData(b, "pythia-tokenizer.json")
	for b.Loop() {
		if _, err := tokenizer.LoadFile(path); err != nil {
			b.Fatal(err)
		}
	}
}

// familyTokenizers are the real tokenizers of ../shared/data/tokenizers.
var familyTokenizers = []string{"qwen2.5", "smollm2", "mistral-v1"}

// BenchmarkFamilyLoad: reading each family's tokenizer.json.
func BenchmarkFamilyLoad(b *testing.B) {
	for _, name := range familyTokenizers {
		b.Run(name, func(b *testing.B) {
			path := sharedData(b, filepath.Join("tokenizers", name, "tokenizer.json"))
			for b.Loop() {
				if _, err := tokenizer.LoadFile(path); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkFamilyEncode: one op = the 1,400 lamini texts encoded one by one
// with each family's tokenizer (hf_bench.py --tokenizer FILE is the HF side).
func BenchmarkFamilyEncode(b *testing.B) {
	texts := laminiTexts(b)
	for _, name := range familyTokenizers {
		b.Run(name, func(b *testing.B) {
			tok, err := tokenizer.LoadFile(sharedData(b, filepath.Join("tokenizers", name, "tokenizer.json")))
			if err != nil {
				b.Fatal(err)
			}
			tokens := totalTokens(tok, texts)
			cpu0 := cpuTime()
			for b.Loop() {
				for _, s := range texts {
					tok.Encode(s)
				}
			}
			b.ReportMetric(float64(tokens), "tokens/op")
			b.ReportMetric(float64(cpuTime()-cpu0)/float64(b.N), "cpu-ns/op")
		})
	}
}

// TestSameIDsAsHF compares with the ids hf_bench.py wrote (bench/out/), when present.
func TestSameIDsAsHF(t *testing.T) {
	path := os.Getenv("HF_IDS")
	if path == "" {
		t.Skip("HF_IDS not set (run.sh sets it to the ids hf_bench.py wrote)")
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var want [][]int
	if err := json.Unmarshal(b, &want); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	tok, texts := pythia(t), laminiTexts(t)
	if len(want) != len(texts) {
		t.Fatalf("%s: %d rows for %d texts", path, len(want), len(texts))
	}
	for i, got := range tok.EncodeBatch(texts) {
		if !slices.Equal(got, want[i]) {
			t.Errorf("text %d: Go %v\nHF %v", i, got, want[i])
		}
	}
}
