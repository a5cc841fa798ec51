package data

import (
	"bufio"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestSplitMatchesHFRule(t *testing.T) {
	g := loadNumpyGoldens(t)
	if len(g.Split) == 0 {
		t.Fatal("no split goldens")
	}
	for _, c := range g.Split {
		train, test, err := Split(c.N, c.TestFraction, c.Seed)
		if err != nil {
			t.Fatalf("Split(%d, %v, %d): %v", c.N, c.TestFraction, c.Seed, err)
		}
		if !reflect.DeepEqual(train, c.Train) || !reflect.DeepEqual(test, c.Test) {
			t.Errorf("Split(%d, %v, %d) = %d/%d rows, differs from numpy+HF rule (%d/%d)", c.N, c.TestFraction, c.Seed, len(train), len(test), len(c.Train), len(c.Test))
		}
	}
}

func TestSplitErrors(t *testing.T) {
	for _, c := range []struct {
		n    int
		frac float64
	}{{10, 0}, {10, 1}, {10, -0.1}, {1, 0.1}, {0, 0.5}, {3, 0.99}} {
		if _, _, err := Split(c.n, c.frac, 1); err == nil {
			t.Errorf("Split(%d, %v) gave no error", c.n, c.frac)
		}
	}
	if _, _, err := Split(1, 0.1, 1); !errors.Is(err, ErrTooFewPairs) {
		t.Errorf("Split(1) error %v, want ErrTooFewPairs", err)
	}
}

func TestSplitExamplesDropsSkippedRowsWhereTheyFell(t *testing.T) {
	// 10 rows; Split(10, 0.1, 123) puts rows train/test as numpy says. Drop
	// one training row and check both sides keep HF's order minus that row.
	trainRows, testRows, err := Split(10, 0.1, 123)
	if err != nil {
		t.Fatal(err)
	}
	skip := trainRows[3]
	var ex []Example
	for r := 0; r < 10; r++ {
		if r != skip {
			ex = append(ex, Example{Input: string(rune('a' + r)), Row: r})
		}
	}
	train, test, err := SplitExamples(ex, 10, 0.1, 123)
	if err != nil {
		t.Fatal(err)
	}
	var wantTrain []int
	for _, r := range trainRows {
		if r != skip {
			wantTrain = append(wantTrain, r)
		}
	}
	if got := rowsOf(train); !reflect.DeepEqual(got, wantTrain) {
		t.Errorf("train rows %v, want %v", got, wantTrain)
	}
	if got := rowsOf(test); !reflect.DeepEqual(got, testRows) {
		t.Errorf("test rows %v, want %v", got, testRows)
	}
	// Dropping the only held-out row empties the test side.
	var ex2 []Example
	for r := 0; r < 10; r++ {
		if r != testRows[0] {
			ex2 = append(ex2, Example{Input: "x", Row: r})
		}
	}
	if _, _, err := SplitExamples(ex2, 10, 0.1, 123); !errors.Is(err, ErrTooFewPairs) {
		t.Errorf("empty test side: error %v", err)
	}
	if _, _, err := SplitExamples(ex[:1], 10, 0.1, 123); !errors.Is(err, ErrTooFewPairs) {
		t.Errorf("one pair: error %v", err)
	}
	if _, _, err := SplitExamples([]Example{{Row: 1}, {Row: 1}}, 3, 0.5, 1); err == nil {
		t.Error("duplicate rows accepted")
	}
	if _, _, err := SplitExamples([]Example{{Row: 0}, {Row: 5}}, 3, 0.5, 1); err == nil {
		t.Error("row out of range accepted")
	}
}

func rowsOf(ex []Example) []int {
	out := make([]int, len(ex))
	for i, e := range ex {
		out[i] = e.Row
	}
	return out
}

func TestSetAccumulatesAndRenumbers(t *testing.T) {
	var s Set
	a, sa, err := FromRecords([]map[string]any{{"input": "a", "output": "1"}, {"input": "", "output": ""}, {"input": "b", "output": "2"}}, "", "")
	if err != nil {
		t.Fatal(err)
	}
	b, sb := FromExamples([]Example{{Input: "c"}, {Input: "d"}})
	if err := s.Add(a, sa); err != nil {
		t.Fatal(err)
	}
	if err := s.Add(b, sb); err != nil {
		t.Fatal(err)
	}
	if s.Len() != 4 || s.Rows() != 5 || s.Skipped() != 1 {
		t.Fatalf("len %d rows %d skipped %d", s.Len(), s.Rows(), s.Skipped())
	}
	if got := rowsOf(s.Examples()); !reflect.DeepEqual(got, []int{0, 2, 3, 4}) {
		t.Fatalf("rows %v", got)
	}
	before := s.Len()
	if err := s.Add([]Example{{Input: "x"}, {Input: "y"}}, LoadStats{Rows: 2}); err == nil {
		t.Fatal("duplicate rows accepted")
	}
	if s.Len() != before {
		t.Fatal("failed Add changed the set")
	}
	train, test, err := s.Split(0.4, 7)
	if err != nil {
		t.Fatal(err)
	}
	if len(train)+len(test) != 4 {
		t.Fatalf("split lost rows: %d + %d", len(train), len(test))
	}
	s.Clear()
	if s.Len() != 0 || s.Rows() != 0 {
		t.Fatal("Clear left data")
	}
}

// TestLaminiDocs loads the course's 1400 rows and proves the split equals
// the shared train/test files row by row.
func TestLaminiDocs(t *testing.T) {
	dir := sharedData(t)
	path := filepath.Join(dir, "lamini_docs.jsonl")
	ex, st, err := ReadJSONLines(path, "question", "answer")
	if err != nil {
		t.Fatal(err)
	}
	if st.Rows != 1400 || st.Skipped != 1 || len(ex) != 1399 || !reflect.DeepEqual(st.SkippedLines, []int{951}) {
		t.Fatalf("rows %d skipped %d (lines %v) kept %d; want 1400, 1 (line 951 = row 950), 1399", st.Rows, st.Skipped, st.SkippedLines, len(ex))
	}
	w := st.Warning(path)
	if !strings.Contains(w, "skipped 1 row ") || !strings.Contains(w, "line 951") || !strings.Contains(w, "1399 of 1400") {
		t.Errorf("warning %q", w)
	}
	if ex[0].Input != "What are the different types of documents available in the repository (e.g., installation guide, API documentation, developer's guide)?" {
		t.Errorf("row 0 = %q", ex[0].Input)
	}

	// Raw rows of the source, to compare byte-exact lines.
	raw := readLines(t, path)
	if len(raw) != 1400 {
		t.Fatalf("%d raw lines", len(raw))
	}
	train, test, err := SplitExamples(ex, st.Rows, DefaultTestFraction, DefaultSplitSeed)
	if err != nil {
		t.Fatal(err)
	}
	wantTrain := readLines(t, filepath.Join(dir, "lamini_docs_train.jsonl"))
	wantTest := readLines(t, filepath.Join(dir, "lamini_docs_test.jsonl"))
	if len(wantTrain) != 1260 || len(wantTest) != 140 {
		t.Fatalf("shared files have %d/%d rows", len(wantTrain), len(wantTest))
	}
	// Row 950 (both fields empty) falls on the training side in HF's split
	// and is the only row we drop.
	var wantTrainKept []string
	for _, l := range wantTrain {
		if l != raw[950] {
			wantTrainKept = append(wantTrainKept, l)
		}
	}
	if len(train) != 1259 || len(test) != 140 || len(wantTrainKept) != 1259 {
		t.Fatalf("split %d/%d, want 1259/140", len(train), len(test))
	}
	for i, e := range train {
		if raw[e.Row] != wantTrainKept[i] {
			t.Fatalf("train row %d is source row %d, differs from lamini_docs_train.jsonl", i, e.Row)
		}
	}
	for i, e := range test {
		if raw[e.Row] != wantTest[i] {
			t.Fatalf("test row %d is source row %d, differs from lamini_docs_test.jsonl", i, e.Row)
		}
	}
	if test[0].Input != "Can Lamini generate technical documentation or user manuals for software projects?" {
		t.Errorf("test[0] = %q", test[0].Input)
	}
	// The split files themselves load as 1260/140 (row 950 is skipped from train).
	trEx, trSt, err := ReadJSONLines(filepath.Join(dir, "lamini_docs_train.jsonl"), "question", "answer")
	if err != nil || trSt.Rows != 1260 || len(trEx) != 1259 {
		t.Fatalf("train file: %v rows %d kept %d", err, trSt.Rows, len(trEx))
	}
	for i := range trEx {
		if trEx[i].Input != train[i].Input || trEx[i].Output != train[i].Output {
			t.Fatalf("train file row %d differs from the split", i)
		}
	}
}

func readLines(t *testing.T, path string) []string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<24)
	for sc.Scan() {
		out = append(out, sc.Text())
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}
