package data

import (
	"bufio"
	"errors"
	"fmt"
	"io"
)

// csvReader is a streaming RFC 4180 record reader that keeps field bytes
// verbatim (a CRLF inside a quoted field stays CRLF, as Python's csv module
// and pandas read it; encoding/csv would turn it into LF) and tracks the
// physical line where each field starts.
//
// Accepted: fields separated by commas; records ended by LF or CRLF (or
// the end of the file); quoted fields with doubled quotes and line breaks
// inside; empty lines between records (skipped). A quote inside an unquoted
// field is taken literally, as Python's csv does. Errors: a quoted field
// that never closes, or text right after a closing quote.
type csvReader struct {
	r          *bufio.Reader
	line       int // physical line of the next byte
	field      []byte
	rec        []string
	fieldLines []int
}

func newCSVReader(r *bufio.Reader) *csvReader { return &csvReader{r: r, line: 1} }

// csvSyntaxError is a quoting error at a physical line.
type csvSyntaxError struct {
	line int
	msg  string
}

func (e *csvSyntaxError) Error() string { return e.msg }

// read returns the next record and the line each field starts on. The
// slices are reused by the next call. At the end it returns io.EOF.
func (c *csvReader) read() ([]string, []int, error) {
	// Skip empty lines.
	for {
		b, err := c.r.ReadByte()
		if err != nil {
			return nil, nil, err // io.EOF or a read error
		}
		if b == '\n' {
			c.line++
			continue
		}
		if b == '\r' {
			if next, err := c.r.Peek(1); err == nil && next[0] == '\n' {
				c.r.ReadByte()
				c.line++
				continue
			}
		}
		if err := c.r.UnreadByte(); err != nil {
			return nil, nil, err
		}
		break
	}
	c.rec, c.fieldLines = c.rec[:0], c.fieldLines[:0]
	for {
		more, err := c.readField()
		if err != nil {
			return nil, nil, err
		}
		if !more {
			return c.rec, c.fieldLines, nil
		}
	}
}

// readField reads one field and its separator; more is false when the
// record ended.
func (c *csvReader) readField() (more bool, err error) {
	c.field = c.field[:0]
	start := c.line
	emit := func() {
		c.rec = append(c.rec, string(c.field))
		c.fieldLines = append(c.fieldLines, start)
	}
	b, err := c.r.ReadByte()
	if errors.Is(err, io.EOF) {
		emit()
		return false, nil
	}
	if err != nil {
		return false, err
	}
	if b == '"' {
		for {
			b, err := c.r.ReadByte()
			if errors.Is(err, io.EOF) {
				return false, &csvSyntaxError{line: start, msg: fmt.Sprintf("quoted field %d starting here never closes", len(c.rec)+1)}
			}
			if err != nil {
				return false, err
			}
			if b == '\n' {
				c.line++
			}
			if b != '"' {
				c.field = append(c.field, b)
				continue
			}
			next, err := c.r.ReadByte()
			if errors.Is(err, io.EOF) {
				emit()
				return false, nil
			}
			if err != nil {
				return false, err
			}
			switch next {
			case '"':
				c.field = append(c.field, '"')
				continue
			case ',':
				emit()
				return true, nil
			case '\n':
				emit()
				c.line++
				return false, nil
			case '\r':
				if after, err := c.r.Peek(1); err == nil && after[0] == '\n' {
					c.r.ReadByte()
					emit()
					c.line++
					return false, nil
				} else if errors.Is(err, io.EOF) {
					emit()
					return false, nil
				}
			}
			return false, &csvSyntaxError{line: c.line, msg: fmt.Sprintf("unexpected %q after the closing quote of field %d (a quote inside a quoted field must be doubled)", next, len(c.rec)+1)}
		}
	}
	for {
		switch b {
		case ',':
			emit()
			return true, nil
		case '\n':
			if n := len(c.field); n > 0 && c.field[n-1] == '\r' {
				c.field = c.field[:n-1]
			}
			emit()
			c.line++
			return false, nil
		}
		c.field = append(c.field, b)
		b, err = c.r.ReadByte()
		if errors.Is(err, io.EOF) {
			if n := len(c.field); n > 0 && c.field[n-1] == '\r' {
				c.field = c.field[:n-1]
			}
			emit()
			return false, nil
		}
		if err != nil {
			return false, err
		}
	}
}
