package data

import "fmt"

// Default keys, as in Lamini's load_data: an empty key means these.
const (
	DefaultInputKey  = "input"
	DefaultOutputKey = "output"
)

// Example is one question/answer pair.
type Example struct {
	Input  string
	Output string
	// Row is the 0-based index of the record in its source, counting every
	// record read (skipped ones too) but not blank lines or a CSV header.
	// After Set.Add it is the index in the accumulated data. SplitExamples
	// splits over these rows, which is what keeps the held-out split equal
	// to HF's when rows are skipped (see SplitExamples).
	Row int
}

// LoadStats counts what a reader saw.
type LoadStats struct {
	// Rows is the number of records read (blank lines and the CSV header
	// excluded), skipped ones included.
	Rows int
	// Skipped is the number of records dropped because input and output
	// were both empty strings. Callers must warn about them (Warning).
	Skipped int
	// SkippedLines holds the 1-based line numbers of the skipped records
	// (for Go values, their 0-based indices).
	SkippedLines []int
}

// Kept returns the number of examples returned: Rows - Skipped.
func (s LoadStats) Kept() int { return s.Rows - s.Skipped }

// Warning returns a one-line warning about skipped records, naming the
// source and the first few lines, or "" when nothing was skipped.
func (s LoadStats) Warning(source string) string {
	if s.Skipped == 0 {
		return ""
	}
	const show = 5
	lines := s.SkippedLines
	more := ""
	if len(lines) > show {
		more = fmt.Sprintf(" and %d more", len(lines)-show)
		lines = lines[:show]
	}
	noun := "rows"
	if s.Skipped == 1 {
		noun = "row"
	}
	return fmt.Sprintf("%s: skipped %d %s whose input and output are both empty (line %s%s); %d of %d rows kept",
		source, s.Skipped, noun, joinInts(lines), more, s.Kept(), s.Rows)
}

func joinInts(xs []int) string {
	out := ""
	for i, x := range xs {
		if i > 0 {
			out += ", "
		}
		out += fmt.Sprint(x)
	}
	return out
}

// keys applies Lamini's defaults to empty key names.
func keys(inputKey, outputKey string) (string, string) {
	if inputKey == "" {
		inputKey = DefaultInputKey
	}
	if outputKey == "" {
		outputKey = DefaultOutputKey
	}
	return inputKey, outputKey
}

// FromExamples numbers Go-built examples as rows 0..n-1 and drops those
// whose input and output are both empty, reporting them in LoadStats.
func FromExamples(examples []Example) ([]Example, LoadStats) {
	out := make([]Example, 0, len(examples))
	var st LoadStats
	for i, ex := range examples {
		st.Rows++
		if ex.Input == "" && ex.Output == "" {
			st.Skipped++
			st.SkippedLines = append(st.SkippedLines, i)
			continue
		}
		ex.Row = i
		out = append(out, ex)
	}
	return out, st
}
