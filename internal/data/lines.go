package data

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
)

var utf8BOM = []byte{0xEF, 0xBB, 0xBF}

// lineReader yields the physical lines of a stream one at a time, without
// their line ending (LF or CRLF), with a leading UTF-8 BOM removed from the
// first line. Lines may be of any length; memory use is bounded by the
// longest line, never by the stream.
type lineReader struct {
	r    *bufio.Reader
	buf  []byte
	line int // 1-based number of the line last returned
}

func newLineReader(r io.Reader) *lineReader {
	return &lineReader{r: bufio.NewReaderSize(r, 64<<10)}
}

// next returns the next line, valid until the following call, or io.EOF.
// A missing final newline is fine.
func (lr *lineReader) next() ([]byte, error) {
	// A very long earlier line should not pin its buffer forever.
	if cap(lr.buf) > 4<<20 {
		lr.buf = nil
	}
	lr.buf = lr.buf[:0]
	var line []byte
	for {
		chunk, err := lr.r.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			lr.buf = append(lr.buf, chunk...)
			continue
		}
		if err != nil && !errors.Is(err, io.EOF) {
			return nil, err
		}
		if len(lr.buf) > 0 {
			lr.buf = append(lr.buf, chunk...)
			line = lr.buf
		} else {
			line = chunk
		}
		if err != nil && len(line) == 0 {
			return nil, io.EOF
		}
		break
	}
	lr.line++
	line = bytes.TrimSuffix(line, []byte{'\n'})
	line = bytes.TrimSuffix(line, []byte{'\r'})
	if lr.line == 1 {
		line = bytes.TrimPrefix(line, utf8BOM)
	}
	return line, nil
}

// skipBOM returns a reader positioned after a leading UTF-8 BOM, if any.
func skipBOM(r io.Reader) (*bufio.Reader, error) {
	br := bufio.NewReaderSize(r, 64<<10)
	head, err := br.Peek(len(utf8BOM))
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, err
	}
	if bytes.Equal(head, utf8BOM) {
		if _, err := br.Discard(len(utf8BOM)); err != nil {
			return nil, err
		}
	}
	return br, nil
}

// eachJSONLine calls fn with every line of r that is not blank and its
// 1-based line number, checking ctx every ctxCheckEvery such lines; name is
// the file name used in errors. An error from fn stops the scan and is
// returned as is.
func eachJSONLine(ctx context.Context, r io.Reader, name string, fn func(line []byte, n int) error) error {
	lr := newLineReader(r)
	for seen := 0; ; {
		line, err := lr.next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("data: reading %s after line %d: %w", name, lr.line, err)
		}
		if isBlank(line) {
			continue
		}
		if seen%ctxCheckEvery == 0 {
			if err := ctx.Err(); err != nil {
				return fmt.Errorf("data: reading %s stopped at line %d: %w", name, lr.line, err)
			}
		}
		seen++
		if err := fn(line, lr.line); err != nil {
			return err
		}
	}
}
