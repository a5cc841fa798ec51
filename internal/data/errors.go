package data

import (
	"errors"
	"fmt"
	"strings"
)

// Kinds of bad input, for errors.Is on the errors the readers return.
var (
	// ErrMalformed: a line is not valid JSON (or not a JSON object), or a CSV
	// record breaks RFC 4180 or has the wrong number of fields.
	ErrMalformed = errors.New("malformed row")
	// ErrMissingKey: the input or output key is absent.
	ErrMissingKey = errors.New("missing key")
	// ErrNotString: the value under a key is not a string.
	ErrNotString = errors.New("value is not a string")
	// ErrInvalidUTF8: text is not valid UTF-8 (or holds an unpaired UTF-16
	// surrogate escape).
	ErrInvalidUTF8 = errors.New("invalid UTF-8")
	// ErrEmpty: the source holds no rows at all.
	ErrEmpty = errors.New("no rows")
)

// InputError locates a problem in the input: the file (empty for Go
// values), the 1-based physical line (for Go values, the 0-based record
// index), and the key when one is involved. Err wraps one of the Err*
// kinds above with details.
type InputError struct {
	File string
	Line int
	Key  string
	Err  error
}

// Error formats the location and the problem, e.g.
// `data/qa.jsonl line 12: key "answer": value is not a string: got a number`.
func (e *InputError) Error() string {
	var b strings.Builder
	switch {
	case e.File != "" && e.Line > 0:
		fmt.Fprintf(&b, "%s line %d", e.File, e.Line)
	case e.File != "":
		b.WriteString(e.File)
	default:
		fmt.Fprintf(&b, "record %d", e.Line)
	}
	if e.Key != "" {
		fmt.Fprintf(&b, ": key %q", e.Key)
	}
	fmt.Fprintf(&b, ": %v", e.Err)
	return b.String()
}

// Unwrap returns the wrapped kind.
func (e *InputError) Unwrap() error { return e.Err }

func inputErr(file string, line int, key string, kind error, format string, args ...any) *InputError {
	err := kind
	if format != "" {
		err = fmt.Errorf("%w: %s", kind, fmt.Sprintf(format, args...))
	}
	return &InputError{File: file, Line: line, Key: key, Err: err}
}
