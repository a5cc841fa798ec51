package data

import (
	"fmt"
	"sort"
	"strings"
	"unicode/utf8"
)

// FromRecords turns Go values (Lamini's load_data(list_of_dicts)) into
// examples, taking the strings under inputKey and outputKey (empty keys
// mean "input" and "output"). Rules and skipping follow ReadJSONLines; an
// error is an *InputError whose Line is the 0-based record index, and the
// examples are then nil. An empty slice is an ErrEmpty error.
func FromRecords(records []map[string]any, inputKey, outputKey string) ([]Example, LoadStats, error) {
	inputKey, outputKey = keys(inputKey, outputKey)
	if len(records) == 0 {
		return nil, LoadStats{}, &InputError{Err: fmt.Errorf("%w: no records given", ErrEmpty)}
	}
	var st LoadStats
	out := make([]Example, 0, len(records))
	for i, rec := range records {
		in, err := recordString(rec, i, inputKey)
		if err != nil {
			return nil, LoadStats{}, err
		}
		outText, err := recordString(rec, i, outputKey)
		if err != nil {
			return nil, LoadStats{}, err
		}
		st.Rows++
		if in == "" && outText == "" {
			st.Skipped++
			st.SkippedLines = append(st.SkippedLines, i)
			continue
		}
		out = append(out, Example{Input: in, Output: outText, Row: i})
	}
	return out, st, nil
}

func recordString(rec map[string]any, i int, key string) (string, error) {
	v, ok := rec[key]
	if !ok {
		ks := make([]string, 0, len(rec))
		for k := range rec {
			ks = append(ks, fmt.Sprintf("%q", k))
		}
		sort.Strings(ks)
		present := strings.Join(ks, ", ")
		if present == "" {
			present = "none"
		}
		return "", inputErr("", i, key, ErrMissingKey, "keys present: %s", present)
	}
	s, ok := v.(string)
	if !ok {
		return "", inputErr("", i, key, ErrNotString, "got %T", v)
	}
	if !utf8.ValidString(s) {
		return "", inputErr("", i, key, ErrInvalidUTF8, "")
	}
	return s, nil
}
