package data

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"unicode/utf8"
)

// ctxCheckEvery is how many records pass between context checks.
const ctxCheckEvery = 1024

// ReadJSONLines reads a JSON-lines file of objects into examples, taking
// the strings under inputKey and outputKey (empty keys mean "input" and
// "output", as in Lamini's load_data_from_jsonlines).
//
// The file is streamed (see ScanJSONLines for the accepted format). Records
// whose input and output are both empty are skipped and counted in
// LoadStats, never dropped silently: report stats.Warning to the user. Any
// problem is an *InputError naming the file, line and key; on error the
// examples are nil, so a caller's data stays as it was.
func ReadJSONLines(path, inputKey, outputKey string) ([]Example, LoadStats, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, LoadStats{}, fmt.Errorf("data: %w", err)
	}
	defer f.Close()
	var out []Example
	st, err := ScanJSONLines(context.Background(), f, path, inputKey, outputKey, func(ex Example) error {
		out = append(out, ex)
		return nil
	})
	if err != nil {
		return nil, LoadStats{}, err
	}
	return out, st, nil
}

// ScanJSONLines streams JSON lines from r, calling fn with each kept
// example in order; name is the file name used in errors. Memory use is
// bounded by the longest line. Each non-blank line must be one JSON object
// holding string values under inputKey and outputKey (other keys are
// ignored). CRLF line endings, a UTF-8 BOM and a missing final newline are
// fine; lines holding only whitespace are skipped. A stream with no records
// is an ErrEmpty error. Cancelling ctx stops the scan with ctx's error. An
// error from fn stops the scan and is returned as is.
func ScanJSONLines(ctx context.Context, r io.Reader, name, inputKey, outputKey string, fn func(Example) error) (LoadStats, error) {
	inputKey, outputKey = keys(inputKey, outputKey)
	var st LoadStats
	err := eachJSONLine(ctx, r, name, func(line []byte, n int) error {
		ex, err := parseJSONLine(line, name, n, inputKey, outputKey)
		if err != nil {
			return err
		}
		ex.Row = st.Rows
		st.Rows++
		if ex.Input == "" && ex.Output == "" {
			st.Skipped++
			st.SkippedLines = append(st.SkippedLines, n)
			return nil
		}
		return fn(ex)
	})
	if err != nil {
		return st, err
	}
	if st.Rows == 0 {
		return st, inputErr(name, 0, "", ErrEmpty, "the file holds no JSON lines")
	}
	return st, nil
}

// jsonSpace is JSON's insignificant whitespace (less the newline that ends a line).
const jsonSpace = " \t\r"

// isBlank reports whether a line holds only JSON whitespace.
func isBlank(line []byte) bool { return len(bytes.TrimLeft(line, jsonSpace)) == 0 }

// parseJSONLine decodes one record.
func parseJSONLine(line []byte, file string, n int, inputKey, outputKey string) (Example, error) {
	trimmed := bytes.TrimLeft(line, jsonSpace)
	if trimmed[0] != '{' {
		return Example{}, inputErr(file, n, "", ErrMalformed, "not a JSON object (line starts with %q)", firstRunes(trimmed, 12))
	}
	// Validate without building values (Unmarshal checks the syntax of the
	// whole input before decoding, and an empty struct keeps nothing), then
	// locate the fields in place: only the two wanted strings are copied.
	if err := json.Unmarshal(line, new(struct{})); err != nil {
		var se *json.SyntaxError
		if errors.As(err, &se) {
			return Example{}, inputErr(file, n, "", ErrMalformed, "%v (at column %d)", se, se.Offset)
		}
		return Example{}, inputErr(file, n, "", ErrMalformed, "%v", err)
	}
	obj := objectFields(line)
	if !utf8.Valid(line) {
		return Example{}, invalidUTF8InLine(line, obj, file, n, inputKey, outputKey)
	}
	in, err := stringField(obj, file, n, inputKey)
	if err != nil {
		return Example{}, err
	}
	out, err := stringField(obj, file, n, outputKey)
	if err != nil {
		return Example{}, err
	}
	return Example{Input: in, Output: out}, nil
}

// stringField extracts the string under key.
func stringField(obj map[string][]byte, file string, n int, key string) (string, error) {
	raw, ok := obj[key]
	if !ok {
		return "", inputErr(file, n, key, ErrMissingKey, "keys present: %s", presentKeys(obj))
	}
	if kind := jsonKind(raw); kind != "string" {
		return "", inputErr(file, n, key, ErrNotString, "got %s", kind)
	}
	if err := checkSurrogates(raw); err != nil {
		return "", inputErr(file, n, key, ErrInvalidUTF8, "%v", err)
	}
	if bytes.IndexByte(raw, '\\') < 0 {
		return string(raw[1 : len(raw)-1]), nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return "", inputErr(file, n, key, ErrMalformed, "%v", err)
	}
	return s, nil
}

// objectFields maps the keys of a syntactically valid JSON object to the
// raw bytes of their values, which alias b (a later duplicate key wins, as
// in Python's json and Go's decoder).
func objectFields(b []byte) map[string][]byte {
	fields := make(map[string][]byte, 4)
	i := skipSpace(b, 0) + 1 // past '{'
	for {
		i = skipSpace(b, i)
		if b[i] == '}' {
			return fields
		}
		end := stringEnd(b, i)
		key := decodeKey(b[i:end])
		i = skipSpace(b, end) + 1 // past ':'
		i = skipSpace(b, i)
		end = valueEnd(b, i)
		fields[key] = b[i:end]
		i = skipSpace(b, end)
		if b[i] != ',' {
			return fields // '}'
		}
		i++
	}
}

func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\r' || b[i] == '\n') {
		i++
	}
	return i
}

// stringEnd returns the index just past the string starting at b[i] == '"'.
func stringEnd(b []byte, i int) int {
	for j := i + 1; j < len(b); j++ {
		switch b[j] {
		case '\\':
			j++
		case '"':
			return j + 1
		}
	}
	return len(b)
}

// valueEnd returns the index just past the value starting at b[i].
func valueEnd(b []byte, i int) int {
	switch b[i] {
	case '"':
		return stringEnd(b, i)
	case '{', '[':
		depth := 0
		for j := i; j < len(b); j++ {
			switch b[j] {
			case '"':
				j = stringEnd(b, j) - 1
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return j + 1
				}
			}
		}
		return len(b)
	default:
		j := i
		for j < len(b) && b[j] != ',' && b[j] != '}' && b[j] != ']' && b[j] != ' ' && b[j] != '\t' && b[j] != '\r' && b[j] != '\n' {
			j++
		}
		return j
	}
}

// decodeKey turns a raw JSON string into its text.
func decodeKey(raw []byte) string {
	if bytes.IndexByte(raw, '\\') < 0 {
		return string(raw[1 : len(raw)-1])
	}
	var k string
	if err := json.Unmarshal(raw, &k); err != nil {
		return string(raw)
	}
	return k
}

// invalidUTF8InLine builds the error for a line that is not valid UTF-8,
// naming the key whose value (or name) holds the bad bytes.
func invalidUTF8InLine(line []byte, obj map[string][]byte, file string, n int, inputKey, outputKey string) error {
	col := 1
	for i := 0; i < len(line); {
		r, size := utf8.DecodeRune(line[i:])
		if r == utf8.RuneError && size == 1 {
			col = i + 1
			break
		}
		i += size
	}
	names := []string{inputKey, outputKey}
	var rest []string
	for k := range obj {
		if k != inputKey && k != outputKey {
			rest = append(rest, k)
		}
	}
	sort.Strings(rest)
	for _, k := range append(names, rest...) {
		if raw, ok := obj[k]; ok && !utf8.Valid(raw) {
			return inputErr(file, n, k, ErrInvalidUTF8, "bad byte at column %d", col)
		}
	}
	return inputErr(file, n, "", ErrInvalidUTF8, "bad byte in a key name at column %d", col)
}

// jsonKind names the JSON type of a raw value.
func jsonKind(raw []byte) string {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return "nothing"
	}
	switch raw[0] {
	case '"':
		return "string"
	case '{':
		return "an object"
	case '[':
		return "an array"
	case 't', 'f':
		return "a boolean"
	case 'n':
		return "null"
	default:
		return "a number"
	}
}

// checkSurrogates rejects \u escapes that leave a UTF-16 surrogate
// unpaired; Go's decoder would silently turn them into U+FFFD, while they
// are not text at all.
func checkSurrogates(raw []byte) error {
	for i := 0; i < len(raw); i++ {
		if raw[i] != '\\' {
			continue
		}
		i++
		if i >= len(raw) || raw[i] != 'u' {
			continue
		}
		v, ok := hex4(raw, i+1)
		if !ok {
			continue // the JSON decoder reports it
		}
		i += 4
		switch {
		case v >= 0xD800 && v < 0xDC00:
			if i+6 < len(raw) && raw[i+1] == '\\' && raw[i+2] == 'u' {
				if lo, ok := hex4(raw, i+3); ok && lo >= 0xDC00 && lo < 0xE000 {
					i += 6
					continue
				}
			}
			return fmt.Errorf("unpaired surrogate escape \\u%04x", v)
		case v >= 0xDC00 && v < 0xE000:
			return fmt.Errorf("unpaired surrogate escape \\u%04x", v)
		}
	}
	return nil
}

func hex4(b []byte, at int) (rune, bool) {
	if at+4 > len(b) {
		return 0, false
	}
	var v rune
	for _, c := range b[at : at+4] {
		v <<= 4
		switch {
		case c >= '0' && c <= '9':
			v |= rune(c - '0')
		case c >= 'a' && c <= 'f':
			v |= rune(c-'a') + 10
		case c >= 'A' && c <= 'F':
			v |= rune(c-'A') + 10
		default:
			return 0, false
		}
	}
	return v, true
}

func presentKeys(obj map[string][]byte) string {
	if len(obj) == 0 {
		return "none"
	}
	ks := make([]string, 0, len(obj))
	for k := range obj {
		ks = append(ks, fmt.Sprintf("%q", k))
	}
	sort.Strings(ks)
	return strings.Join(ks, ", ")
}

func firstRunes(b []byte, n int) string {
	s := string(b)
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	return string([]rune(s)[:n]) + "…"
}
