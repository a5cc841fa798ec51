package data

import (
	"errors"
	"fmt"
	"math"
)

// Defaults of the held-out split (the course's settings).
const (
	DefaultTestFraction = 0.1
	DefaultSplitSeed    = 123
)

// ErrTooFewPairs: a held-out split was asked for with too few pairs to
// leave at least one on each side (Lamini's rule).
var ErrTooFewPairs = errors.New("need at least 2 pairs to allow validation")

// Split splits row indices 0..n-1 into a training and a held-out set
// exactly as HF datasets' train_test_split(test_size=testFraction,
// shuffle=True, seed=seed) does: perm = numpy's
// default_rng(seed).permutation(n), nTest = ceil(testFraction*n),
// test = perm[:nTest], train = perm[nTest:]. Both lists are in permutation
// order (HF's row order). testFraction must be in (0, 1) and both sides
// non-empty. On the 1400 rows of lamini_docs with 0.1 and 123 this gives
// the course's 1260/140 split. n counts every source row, skipped ones
// included; SplitExamples and Set.Split apply it to examples.
func Split(n int, testFraction float64, seed uint64) (train, test []int, err error) {
	if !(testFraction > 0 && testFraction < 1) {
		return nil, nil, fmt.Errorf("data: test fraction %v must be between 0 and 1 (exclusive)", testFraction)
	}
	if n < 2 {
		return nil, nil, fmt.Errorf("data: splitting %d rows: %w", n, ErrTooFewPairs)
	}
	nTest := int(math.Ceil(testFraction * float64(n)))
	if nTest >= n {
		return nil, nil, fmt.Errorf("data: test fraction %v of %d rows leaves no training rows", testFraction, n)
	}
	perm := Permutation(n, seed)
	return perm[nTest:], perm[:nTest], nil
}

// SplitExamples splits examples whose Row fields index a source of rows
// rows (skipped ones included, e.g. LoadStats.Rows) into training and
// held-out examples.
//
// The rule: the split is drawn over the source's rows before skipped rows
// are dropped, and a skipped row simply leaves whichever side it fell on.
// So the split of a file equals HF's split of the same file (HF keeps empty
// rows), minus the rows we skip. On lamini_docs (1400 rows, row 950 empty)
// this gives train = the 1260 rows of lamini_docs_train.jsonl less row 950
// (1259) and test = the 140 rows of lamini_docs_test.jsonl, each in that
// file's order.
//
// It fails when rows < 2, when fewer than 2 examples are given, or when
// dropping skipped rows empties a side, each wrapping ErrTooFewPairs.
func SplitExamples(examples []Example, rows int, testFraction float64, seed uint64) (train, test []Example, err error) {
	if len(examples) < 2 {
		return nil, nil, fmt.Errorf("data: %d pairs: %w", len(examples), ErrTooFewPairs)
	}
	at := make([]int, rows)
	for i := range at {
		at[i] = -1
	}
	for i, ex := range examples {
		if ex.Row < 0 || ex.Row >= rows {
			return nil, nil, fmt.Errorf("data: example %d has row %d outside the %d source rows", i, ex.Row, rows)
		}
		if at[ex.Row] >= 0 {
			return nil, nil, fmt.Errorf("data: examples %d and %d both claim row %d", at[ex.Row], i, ex.Row)
		}
		at[ex.Row] = i
	}
	trainRows, testRows, err := Split(rows, testFraction, seed)
	if err != nil {
		return nil, nil, err
	}
	pick := func(idx []int) []Example {
		out := make([]Example, 0, len(idx))
		for _, r := range idx {
			if i := at[r]; i >= 0 {
				out = append(out, examples[i])
			}
		}
		return out
	}
	train, test = pick(trainRows), pick(testRows)
	if len(train) == 0 || len(test) == 0 {
		return nil, nil, fmt.Errorf("data: split of %d rows (%d pairs) leaves %d training and %d held-out pairs: %w",
			rows, len(examples), len(train), len(test), ErrTooFewPairs)
	}
	return train, test, nil
}

// Set accumulates examples across loads, as Lamini's runner does (each
// load_data call adds to the data; clear_data empties it). It renumbers
// rows so that a split of the set equals HF's split of the concatenated
// sources. The zero Set is empty and ready to use.
type Set struct {
	examples []Example
	rows     int
	skipped  int
}

// Add appends examples read from one source together with that read's
// stats. The examples' Row fields must be distinct and below stats.Rows
// (as the readers return them); on error the set is unchanged.
func (s *Set) Add(examples []Example, stats LoadStats) error {
	seen := make(map[int]bool, len(examples))
	for i, ex := range examples {
		if ex.Row < 0 || ex.Row >= stats.Rows || seen[ex.Row] {
			return fmt.Errorf("data: example %d has row %d: rows must be distinct and below %d (use FromExamples for Go-built examples)", i, ex.Row, stats.Rows)
		}
		seen[ex.Row] = true
	}
	for _, ex := range examples {
		ex.Row += s.rows
		s.examples = append(s.examples, ex)
	}
	s.rows += stats.Rows
	s.skipped += stats.Skipped
	return nil
}

// Examples returns the accumulated examples in load order (the set's own
// slice: do not modify it).
func (s *Set) Examples() []Example { return s.examples }

// Len returns the number of examples.
func (s *Set) Len() int { return len(s.examples) }

// Rows returns the number of source rows seen, skipped ones included.
func (s *Set) Rows() int { return s.rows }

// Skipped returns the number of rows skipped across all loads.
func (s *Set) Skipped() int { return s.skipped }

// Clear empties the set.
func (s *Set) Clear() { *s = Set{} }

// Split splits the set with SplitExamples over its rows.
func (s *Set) Split(testFraction float64, seed uint64) (train, test []Example, err error) {
	return SplitExamples(s.examples, s.rows, testFraction, seed)
}
