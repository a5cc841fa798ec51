package data

import (
	"context"
	"errors"
	"reflect"
	"strconv"
	"strings"
	"testing"
)

type fixtureWant struct {
	InputKey     string `json:"input_key"`
	OutputKey    string `json:"output_key"`
	Rows         int    `json:"rows"`
	Skipped      int    `json:"skipped"`
	SkippedLines []int  `json:"skipped_lines"`
	Examples     []struct {
		Input  string `json:"input"`
		Output string `json:"output"`
		Row    int    `json:"row"`
	} `json:"examples"`
}

// TestFixturesMatchPython reads the fixtures written by data_goldens.py and
// compares with what Python's json and csv modules read from them.
func TestFixturesMatchPython(t *testing.T) {
	var want map[string]fixtureWant
	loadJSON(t, testdataPath(t, "fixtures_expected.json"), &want)
	if len(want) < 3 {
		t.Fatalf("expected 3 fixtures, golden has %d", len(want))
	}
	for name, w := range want {
		t.Run(name, func(t *testing.T) {
			path := testdataPath(t, name)
			var got []Example
			var st LoadStats
			var err error
			if strings.HasSuffix(name, ".csv") {
				got, st, err = ReadCSV(path, w.InputKey, w.OutputKey)
			} else {
				got, st, err = ReadJSONLines(path, w.InputKey, w.OutputKey)
			}
			if err != nil {
				t.Fatal(err)
			}
			if st.Rows != w.Rows || st.Skipped != w.Skipped {
				t.Errorf("stats %+v, want rows %d skipped %d", st, w.Rows, w.Skipped)
			}
			if len(w.SkippedLines) > 0 && !reflect.DeepEqual(st.SkippedLines, w.SkippedLines) {
				t.Errorf("skipped lines %v, want %v", st.SkippedLines, w.SkippedLines)
			}
			if len(got) != len(w.Examples) {
				t.Fatalf("got %d examples, want %d: %+v", len(got), len(w.Examples), got)
			}
			for i, e := range w.Examples {
				if got[i] != (Example{Input: e.Input, Output: e.Output, Row: e.Row}) {
					t.Errorf("example %d = %+v, want %+v", i, got[i], e)
				}
			}
		})
	}
}

func TestCSVSkippedLineIsPhysical(t *testing.T) {
	// Record "3,," starts on physical line 7: the header, record 1, an empty
	// line, and record 2 spanning lines 4-6 (two quoted line breaks) come first.
	_, st, err := ReadCSV(testdataPath(t, "fixture_quoted.csv"), "prompt", "completion")
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(st.SkippedLines, []int{7}) {
		t.Fatalf("skipped lines %v, want [7]", st.SkippedLines)
	}
	if w := st.Warning("fixture_quoted.csv"); !strings.Contains(w, "skipped 1 row") || !strings.Contains(w, "line 7") {
		t.Fatalf("warning %q", w)
	}
}

func TestDefaultKeys(t *testing.T) {
	got, _, err := ReadJSONLines(testdataPath(t, "fixture_lf.jsonl"), "", "")
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 3 || got[0].Input != "a" {
		t.Fatalf("got %+v", got)
	}
	p := writeFile(t, "d.csv", "output,input\nB,A\n")
	ex, _, err := ReadCSV(p, "", "")
	if err != nil {
		t.Fatal(err)
	}
	if len(ex) != 1 || ex[0].Input != "A" || ex[0].Output != "B" {
		t.Fatalf("got %+v", ex)
	}
}

func TestJSONLinesErrors(t *testing.T) {
	cases := []struct {
		name, content string
		line          int
		key           string
		kind          error
		msg           string
	}{
		{"malformed", "{\"input\": \"a\", \"output\": \"b\"}\n{\"input\": \"a\", \"output\": }\n", 2, "", ErrMalformed, "invalid character"},
		{"truncated", "{\"input\": \"a\", \"output\": \"b\"", 1, "", ErrMalformed, "unexpected end"},
		{"trailing garbage", "{\"input\": \"a\", \"output\": \"b\"} x\n", 1, "", ErrMalformed, "after top-level value"},
		{"not an object", "\n\n[\"input\", \"output\"]\n", 3, "", ErrMalformed, "not a JSON object"},
		{"bare string", "\"hello\"\n", 1, "", ErrMalformed, "not a JSON object"},
		{"missing input", "{\"input\": \"a\", \"output\": \"b\"}\r\n{\"output\": \"b\", \"q\": 1}\r\n", 2, "input", ErrMissingKey, `keys present: "output", "q"`},
		{"missing output", "{\"input\": \"a\"}", 1, "output", ErrMissingKey, `keys present: "input"`},
		{"number", "{\"input\": 3, \"output\": \"b\"}\n", 1, "input", ErrNotString, "got a number"},
		{"null", "{\"input\": \"a\", \"output\": null}\n", 1, "output", ErrNotString, "got null"},
		{"array", "{\"input\": [\"a\"], \"output\": \"b\"}\n", 1, "input", ErrNotString, "got an array"},
		{"object", "{\"input\": {}, \"output\": \"b\"}\n", 1, "input", ErrNotString, "got an object"},
		{"bool", "{\"input\": \"a\", \"output\": true}\n", 1, "output", ErrNotString, "got a boolean"},
		{"bad utf8 in output", "{\"input\": \"a\", \"output\": \"b\xff\"}\n", 1, "output", ErrInvalidUTF8, "column 28"},
		{"bad utf8 in other key", "{\"input\": \"a\", \"output\": \"b\", \"z\": \"\xc3\"}\n", 1, "z", ErrInvalidUTF8, "bad byte"},
		{"bad utf8 in key name", "{\"input\": \"a\", \"output\": \"b\", \"\xe2\x82\": 1}\n", 1, "", ErrInvalidUTF8, "key name"},
		{"lone high surrogate", "{\"input\": \"\\ud83d x\", \"output\": \"b\"}\n", 1, "input", ErrInvalidUTF8, "unpaired surrogate"},
		{"lone low surrogate", "{\"input\": \"a\", \"output\": \"\\uDE00\"}\n", 1, "output", ErrInvalidUTF8, "unpaired surrogate"},
		{"empty file", "", 0, "", ErrEmpty, "no JSON lines"},
		{"only blank lines", "\r\n \n\t\n", 0, "", ErrEmpty, "no JSON lines"},
		{"only a BOM", "\xef\xbb\xbf", 0, "", ErrEmpty, "no JSON lines"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			path := writeFile(t, "in.jsonl", c.content)
			ex, st, err := ReadJSONLines(path, "input", "output")
			checkInputError(t, err, path, c.line, c.key, c.kind, c.msg)
			if ex != nil || st.Rows != 0 {
				t.Errorf("on error got examples %v stats %+v, want nil and zero", ex, st)
			}
		})
	}
}

func TestCSVErrors(t *testing.T) {
	cases := []struct {
		name, content string
		line          int
		key           string
		kind          error
		msg           string
	}{
		{"empty file", "", 0, "", ErrEmpty, "no header"},
		{"header only", "input,output\r\n", 0, "", ErrEmpty, "no records"},
		{"missing column", "input,answer\na,b\n", 1, "output", ErrMissingKey, `columns: "input", "answer"`},
		{"duplicate column", "input,output,input\na,b,c\n", 1, "input", ErrMalformed, "twice"},
		{"too many fields", "input,output\na,b\nc,d,e\n", 3, "", ErrMalformed, "3 fields, the header has 2"},
		{"too few fields", "input,output\n\"multi\nline\",b\nc\n", 4, "", ErrMalformed, "1 fields"},
		{"unclosed quote", "input,output\na,b\nc,\"never\nends\n", 3, "", ErrMalformed, "never closes"},
		{"text after quote", "input,output\n\"a\"x,b\n", 2, "", ErrMalformed, "after the closing quote"},
		{"bad utf8", "input,output\na,b\n\"x\ny\",\"\xff\"\n", 4, "output", ErrInvalidUTF8, "field 2"},
		{"bad utf8 in header", "input,output,\xfe\n", 1, "", ErrInvalidUTF8, "header column 3"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			path := writeFile(t, "in.csv", c.content)
			ex, _, err := ReadCSV(path, "input", "output")
			checkInputError(t, err, path, c.line, c.key, c.kind, c.msg)
			if ex != nil {
				t.Errorf("on error got examples %v, want nil", ex)
			}
		})
	}
}

func checkInputError(t *testing.T, err error, path string, line int, key string, kind error, msg string) {
	t.Helper()
	if err == nil {
		t.Fatal("no error")
	}
	var ie *InputError
	if !errors.As(err, &ie) {
		t.Fatalf("error %v is not an *InputError", err)
	}
	if !errors.Is(err, kind) {
		t.Errorf("error %q is not %v", err, kind)
	}
	if ie.File != path || ie.Line != line || ie.Key != key {
		t.Errorf("error at file %q line %d key %q, want %q %d %q", ie.File, ie.Line, ie.Key, path, line, key)
	}
	s := err.Error()
	if !strings.Contains(s, path) || !strings.Contains(s, msg) {
		t.Errorf("message %q lacks the file name or %q", s, msg)
	}
	if line > 0 && !strings.Contains(s, "line "+strconv.Itoa(line)) {
		t.Errorf("message %q lacks the line", s)
	}
	if key != "" && !strings.Contains(s, `key "`+key+`"`) {
		t.Errorf("message %q lacks the key", s)
	}
}

func TestMissingFile(t *testing.T) {
	_, _, err := ReadJSONLines("/nonexistent/x.jsonl", "", "")
	if err == nil || !strings.Contains(err.Error(), "/nonexistent/x.jsonl") {
		t.Fatalf("error %v", err)
	}
	_, _, err = ReadCSV("/nonexistent/x.csv", "", "")
	if err == nil || !strings.Contains(err.Error(), "/nonexistent/x.csv") {
		t.Fatalf("error %v", err)
	}
}

func TestScanCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := ScanJSONLines(ctx, strings.NewReader("{\"input\":\"a\",\"output\":\"b\"}\n"), "x", "", "", func(Example) error { return nil })
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("got %v", err)
	}
	_, err = ScanCSV(ctx, strings.NewReader("input,output\na,b\n"), "x", "", "", func(Example) error { return nil })
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("got %v", err)
	}
}

func TestScanCallbackErrorStops(t *testing.T) {
	stop := errors.New("stop")
	n := 0
	_, err := ScanJSONLines(context.Background(), strings.NewReader("{\"input\":\"a\",\"output\":\"b\"}\n{\"input\":\"c\",\"output\":\"d\"}\n"), "x", "", "",
		func(Example) error { n++; return stop })
	if !errors.Is(err, stop) || n != 1 {
		t.Fatalf("err %v after %d calls", err, n)
	}
}

func TestFromRecords(t *testing.T) {
	ex, st, err := FromRecords([]map[string]any{
		{"q": "a", "a": "b"}, {"q": "", "a": ""}, {"q": "c", "a": "", "x": 1},
	}, "q", "a")
	if err != nil {
		t.Fatal(err)
	}
	want := []Example{{Input: "a", Output: "b", Row: 0}, {Input: "c", Output: "", Row: 2}}
	if !reflect.DeepEqual(ex, want) || st.Rows != 3 || st.Skipped != 1 || !reflect.DeepEqual(st.SkippedLines, []int{1}) {
		t.Fatalf("got %+v %+v", ex, st)
	}
	for _, c := range []struct {
		recs []map[string]any
		key  string
		kind error
	}{
		{[]map[string]any{{"input": "a", "output": "b"}, {"input": "a"}}, "output", ErrMissingKey},
		{[]map[string]any{{"input": 1, "output": "b"}}, "input", ErrNotString},
		{[]map[string]any{{"input": "a", "output": "\xff"}}, "output", ErrInvalidUTF8},
		{nil, "", ErrEmpty},
	} {
		ex, _, err := FromRecords(c.recs, "", "")
		var ie *InputError
		if ex != nil || !errors.Is(err, c.kind) || !errors.As(err, &ie) || ie.Key != c.key {
			t.Errorf("records %v: got %v, %v", c.recs, ex, err)
		}
	}
	_, _, err = FromRecords([]map[string]any{{"input": "a", "output": "b"}, {"input": "a"}}, "", "")
	if !strings.Contains(err.Error(), `record 1: key "output"`) {
		t.Errorf("message %q", err)
	}
}

func TestFromExamples(t *testing.T) {
	ex, st := FromExamples([]Example{{Input: "a"}, {}, {Output: "b", Row: 99}})
	want := []Example{{Input: "a", Row: 0}, {Output: "b", Row: 2}}
	if !reflect.DeepEqual(ex, want) || st.Rows != 3 || st.Skipped != 1 {
		t.Fatalf("got %+v %+v", ex, st)
	}
}
