package data

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"unicode/utf8"
)

// ReadCSV reads a CSV file into examples, taking the columns named
// inputKey and outputKey (empty keys mean "input" and "output") in the
// header row, as Lamini's load_data_from_csv does. The file is streamed;
// see ScanCSV for the accepted format. Skipping, errors and the nil result
// on error follow ReadJSONLines.
func ReadCSV(path, inputKey, outputKey string) ([]Example, LoadStats, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, LoadStats{}, fmt.Errorf("data: %w", err)
	}
	defer f.Close()
	var out []Example
	st, err := ScanCSV(context.Background(), f, path, inputKey, outputKey, func(ex Example) error {
		out = append(out, ex)
		return nil
	})
	if err != nil {
		return nil, LoadStats{}, err
	}
	return out, st, nil
}

// ScanCSV streams CSV records from r, calling fn with each kept example in
// order; name is the file name used in errors. The first record is the
// header naming the columns; other columns are ignored. Quoting follows
// RFC 4180 (fields may hold commas, doubled quotes and line breaks, kept
// byte for byte as Python's csv module and pandas keep them; a quote inside
// an unquoted field is literal; text after a closing quote is an error).
// CRLF line endings, a
// UTF-8 BOM and a missing final newline are fine; empty lines (and, when
// the header has several columns, lines of only spaces or tabs) are
// skipped. Every record must have as many fields as the header. Errors are
// *InputError values giving the physical line where the offending field
// (or record) starts. A file without a header, or with a header and no
// records, is an ErrEmpty error.
func ScanCSV(ctx context.Context, r io.Reader, name, inputKey, outputKey string, fn func(Example) error) (LoadStats, error) {
	inputKey, outputKey = keys(inputKey, outputKey)
	var st LoadStats
	br, err := skipBOM(r)
	if err != nil {
		return st, fmt.Errorf("data: reading %s: %w", name, err)
	}
	cr := newCSVReader(br)

	header, lines, err := cr.read()
	if errors.Is(err, io.EOF) {
		return st, inputErr(name, 0, "", ErrEmpty, "the file is empty (no header row)")
	}
	if err != nil {
		return st, csvReadErr(name, err)
	}
	header = append([]string(nil), header...)
	headerLine := lines[0]
	for i, h := range header {
		if !utf8.ValidString(h) {
			return st, inputErr(name, lines[i], "", ErrInvalidUTF8, "in header column %d", i+1)
		}
	}
	inCol, err := column(header, name, headerLine, inputKey)
	if err != nil {
		return st, err
	}
	outCol, err := column(header, name, headerLine, outputKey)
	if err != nil {
		return st, err
	}

	for {
		rec, lines, err := cr.read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return st, csvReadErr(name, err)
		}
		line := lines[0]
		if len(rec) != len(header) {
			if len(rec) == 1 && strings.Trim(rec[0], " \t") == "" {
				continue // a line of spaces
			}
			return st, inputErr(name, line, "", ErrMalformed, "record has %d fields, the header has %d", len(rec), len(header))
		}
		if st.Rows%ctxCheckEvery == 0 {
			if err := ctx.Err(); err != nil {
				return st, fmt.Errorf("data: reading %s stopped at line %d: %w", name, line, err)
			}
		}
		for i, f := range rec {
			if !utf8.ValidString(f) {
				return st, inputErr(name, lines[i], header[i], ErrInvalidUTF8, "in field %d", i+1)
			}
		}
		ex := Example{Input: rec[inCol], Output: rec[outCol], Row: st.Rows}
		st.Rows++
		if ex.Input == "" && ex.Output == "" {
			st.Skipped++
			st.SkippedLines = append(st.SkippedLines, line)
			continue
		}
		if err := fn(ex); err != nil {
			return st, err
		}
	}
	if st.Rows == 0 {
		return st, inputErr(name, 0, "", ErrEmpty, "the file has a header and no records")
	}
	return st, nil
}

// column finds the header column named key; it must appear exactly once.
func column(header []string, file string, line int, key string) (int, error) {
	at := -1
	for i, h := range header {
		if h != key {
			continue
		}
		if at >= 0 {
			return 0, inputErr(file, line, key, ErrMalformed, "the header names this column twice (columns %d and %d)", at+1, i+1)
		}
		at = i
	}
	if at < 0 {
		quoted := make([]string, len(header))
		for i, h := range header {
			quoted[i] = fmt.Sprintf("%q", h)
		}
		return 0, inputErr(file, line, key, ErrMissingKey, "no such column in the header (columns: %s)", strings.Join(quoted, ", "))
	}
	return at, nil
}

// csvReadErr turns quoting errors into *InputError.
func csvReadErr(file string, err error) error {
	var se *csvSyntaxError
	if errors.As(err, &se) {
		return inputErr(file, se.line, "", ErrMalformed, "%s", se.msg)
	}
	return fmt.Errorf("data: reading %s: %w", file, err)
}
