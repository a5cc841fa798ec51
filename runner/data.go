package runner

import (
	"fmt"

	"github.com/golamini/golamini/internal/data"
)

// LoadDataFromJSONLines adds the (input, output) pairs of a JSON-lines file
// to the runner's data (data accumulates across calls, as in Lamini). Empty
// keys mean "input" and "output". The file is streamed. Any problem is an
// error naming the file, line and key, and then nothing of the file is
// added. Rows whose input and output are both empty are skipped with a
// logged warning.
//
// Errors: ErrBadData (the file's content; os errors such as
// os.ErrNotExist match for the file itself), ErrClosed.
func (r *Runner) LoadDataFromJSONLines(path, inputKey, outputKey string) error {
	ex, st, err := data.ReadJSONLines(path, inputKey, outputKey)
	if err != nil {
		return classify(fmt.Errorf("runner: %w", err))
	}
	return r.addData(ex, st, path)
}

// LoadDataFromCSV adds the pairs of a CSV file whose header names the
// columns, with the same rules as LoadDataFromJSONLines.
func (r *Runner) LoadDataFromCSV(path, inputKey, outputKey string) error {
	ex, st, err := data.ReadCSV(path, inputKey, outputKey)
	if err != nil {
		return classify(fmt.Errorf("runner: %w", err))
	}
	return r.addData(ex, st, path)
}

// LoadData adds pairs from Go values: each record maps inputKey and
// outputKey (empty: "input", "output") to strings, like Lamini's load_data.
func (r *Runner) LoadData(records []map[string]any, inputKey, outputKey string) error {
	ex, st, err := data.FromRecords(records, inputKey, outputKey)
	if err != nil {
		return classify(fmt.Errorf("runner: %w", err))
	}
	return r.addData(ex, st, "records")
}

// ClearData forgets all loaded data (pairs and conversations).
func (r *Runner) ClearData() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.data.Clear()
	r.chats = nil
}

// DataLen returns the number of loaded pairs.
func (r *Runner) DataLen() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.data.Len()
}

func (r *Runner) addData(ex []data.Example, st data.LoadStats, source string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return ErrClosed
	}
	if err := r.data.Add(ex, st); err != nil {
		return classify(fmt.Errorf("runner: %w", err))
	}
	if st.Skipped > 0 {
		r.log.Warn().Str("source", source).Int("skipped", st.Skipped).Ints("lines", st.SkippedLines).Msg(st.Warning(source))
	}
	r.log.Info().Str("source", source).Int("pairs", len(ex)).Int("total", r.data.Len()).Msg("data loaded")
	return nil
}
