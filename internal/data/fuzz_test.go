package data

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"
)

// fuzzSeeds adds the repository's real data files with the given suffix and,
// when ../shared is present, the start of the shared lamini_docs files (whole
// files would make each fuzzing run slow).
func fuzzSeeds(f *testing.F, suffix string) {
	var n int
	add := func(path string, limit int) {
		b, err := os.ReadFile(path)
		if err != nil {
			return
		}
		if len(b) > limit {
			b = b[:limit]
		}
		f.Add(b)
		n++
	}
	root := repoRoot(f)
	for _, glob := range []string{"testdata/data/*" + suffix, "testdata/*" + suffix} {
		paths, _ := filepath.Glob(filepath.Join(root, glob))
		for _, p := range paths {
			add(p, 16<<10)
		}
	}
	if shared := os.Getenv("GOLAMINI_SHARED"); shared != "" || dirExists(filepath.Join(root, "..", "shared", "data")) {
		if shared == "" {
			shared = filepath.Join(root, "..", "shared")
		}
		paths, _ := filepath.Glob(filepath.Join(shared, "data", "*"+suffix))
		for _, p := range paths {
			add(p, 4<<10)
		}
	}
	if n == 0 {
		f.Fatalf("no seed files *%s under testdata", suffix)
	}
}

func dirExists(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.IsDir()
}

// FuzzJSONLines: any bytes give an error naming the stream, or examples that
// encoding/json agrees with line by line (same strings under the keys, the
// same records skipped as empty); never a panic.
func FuzzJSONLines(f *testing.F) {
	fuzzSeeds(f, ".jsonl")
	f.Add([]byte("{\"input\":\"a\",\"output\":\"b\"}\r\n\n  \n{\"input\":\"\",\"output\":\"\",\"input\":\"c\"}"))
	f.Add([]byte("\xef\xbb\xbf{\"input\":\"\\ud83d\\ude00\",\"output\":\"\\u00e9\"}"))
	f.Fuzz(func(t *testing.T, data []byte) {
		var got []Example
		st, err := ScanJSONLines(context.Background(), bytes.NewReader(data), "fuzz.jsonl", "input", "output", func(ex Example) error {
			got = append(got, ex)
			return nil
		})
		if err != nil {
			if !strings.Contains(err.Error(), "fuzz.jsonl") {
				t.Fatalf("error does not name the file: %v", err)
			}
			var ie *InputError
			if errors.As(err, &ie) && !(errors.Is(err, ErrMalformed) || errors.Is(err, ErrMissingKey) ||
				errors.Is(err, ErrNotString) || errors.Is(err, ErrInvalidUTF8) || errors.Is(err, ErrEmpty)) {
				t.Fatalf("InputError of no known kind: %v", err)
			}
			return
		}
		var want []Example
		rows := 0
		lines := bytes.Split(bytes.TrimPrefix(data, utf8BOM), []byte{'\n'})
		for i, line := range lines {
			if len(bytes.Trim(line, " \t\r")) == 0 {
				continue
			}
			var obj map[string]json.RawMessage
			if err := json.Unmarshal(line, &obj); err != nil {
				t.Fatalf("line %d accepted, encoding/json says %v", i+1, err)
			}
			var in, out string
			if json.Unmarshal(obj["input"], &in) != nil || json.Unmarshal(obj["output"], &out) != nil {
				t.Fatalf("line %d accepted without two strings: %s", i+1, line)
			}
			if !utf8.ValidString(in) || !utf8.ValidString(out) {
				t.Fatalf("line %d accepted with invalid UTF-8", i+1)
			}
			if in != "" || out != "" {
				want = append(want, Example{Input: in, Output: out, Row: rows})
			}
			rows++
		}
		if st.Rows != rows || len(got) != len(want) || st.Skipped != rows-len(want) {
			t.Fatalf("rows %d (skipped %d), %d examples; encoding/json: rows %d, %d examples", st.Rows, st.Skipped, len(got), rows, len(want))
		}
		for i := range got {
			if got[i] != want[i] {
				t.Fatalf("example %d = %+v, encoding/json gives %+v", i, got[i], want[i])
			}
		}
	})
}

// FuzzCSV: any bytes give an error naming the stream, or valid UTF-8
// examples; where the input has no carriage returns (which this reader
// keeps inside quoted fields and encoding/csv drops) and encoding/csv also
// accepts it, both read the same records. Never a panic.
func FuzzCSV(f *testing.F) {
	fuzzSeeds(f, ".csv")
	f.Add([]byte("input,output\n\"a,b\",\"c\"\"d\"\n\n \ne,\"multi\nline\"\n"))
	f.Add([]byte("\xef\xbb\xbfoutput,x,input\r\n1,2,3\r\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		var got []Example
		st, err := ScanCSV(context.Background(), bytes.NewReader(data), "fuzz.csv", "input", "output", func(ex Example) error {
			got = append(got, ex)
			return nil
		})
		if err != nil {
			if !strings.Contains(err.Error(), "fuzz.csv") {
				t.Fatalf("error does not name the file: %v", err)
			}
			return
		}
		if st.Rows != len(got)+st.Skipped {
			t.Fatalf("rows %d = %d examples + %d skipped?", st.Rows, len(got), st.Skipped)
		}
		for _, ex := range got {
			if !utf8.ValidString(ex.Input) || !utf8.ValidString(ex.Output) {
				t.Fatalf("invalid UTF-8 in %+v", ex)
			}
		}
		if bytes.IndexByte(data, '\r') >= 0 {
			return
		}
		cr := csv.NewReader(bytes.NewReader(bytes.TrimPrefix(data, utf8BOM)))
		cr.FieldsPerRecord = -1
		recs, err := cr.ReadAll()
		if err != nil || len(recs) == 0 {
			return // encoding/csv is stricter about quotes inside unquoted fields
		}
		in, out := -1, -1
		for i, h := range recs[0] {
			switch h {
			case "input":
				in = i
			case "output":
				out = i
			}
		}
		var want []Example
		rows := 0
		for _, r := range recs[1:] {
			if len(r) == 1 && strings.Trim(r[0], " \t") == "" && len(recs[0]) > 1 {
				continue // a line of spaces
			}
			if len(r) != len(recs[0]) {
				t.Fatalf("record %v accepted with %d fields, the header has %d", r, len(r), len(recs[0]))
			}
			if r[in] != "" || r[out] != "" {
				want = append(want, Example{Input: r[in], Output: r[out], Row: rows})
			}
			rows++
		}
		if len(got) != len(want) {
			t.Fatalf("%d examples, encoding/csv gives %d", len(got), len(want))
		}
		for i := range got {
			if got[i] != want[i] {
				t.Fatalf("example %d = %+v, encoding/csv gives %+v", i, got[i], want[i])
			}
		}
	})
}
