package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/golamini/golamini/internal/testutil"
	"golang.org/x/text/unicode/norm"
)

// tokenizeRun runs `golamini tokenize args...` in-process.
func tokenizeRun(t *testing.T, stdin io.Reader, args ...string) (string, string, int) {
	t.Helper()
	var out, errb bytes.Buffer
	code := runMain(context.Background(), append([]string{"tokenize"}, args...), stdin, &out, &errb)
	return out.String(), errb.String(), code
}

// projectTokenizerDir is testdata/tokenizer at the repository root.
func projectTokenizerDir(t *testing.T) string {
	t.Helper()
	dir, _ := os.Getwd()
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return filepath.Join(dir, "testdata", "tokenizer")
		}
		if filepath.Dir(dir) == dir {
			t.Fatal("go.mod not found")
		}
		dir = filepath.Dir(dir)
	}
}

// goldenTexts reads the encode rows with text of testdata/tokenizer/goldens.jsonl.
func goldenTexts(t *testing.T) (texts []string, ids [][]int) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(projectTokenizerDir(t), "goldens.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		var r struct {
			Kind string  `json:"kind"`
			Text *string `json:"text"`
			IDs  []int   `json:"ids"`
		}
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			t.Fatal(err)
		}
		if r.Kind == "encode" && r.Text != nil {
			texts, ids = append(texts, *r.Text), append(ids, r.IDs)
		}
	}
	return texts, ids
}

func TestTokenizeEncodeDecode(t *testing.T) {
	dir := projectTokenizerDir(t)
	texts, want := goldenTexts(t)
	var in strings.Builder
	for i, s := range texts {
		b, _ := json.Marshal(map[string]string{"text": s})
		in.Write(b)
		in.WriteString("\n")
		if i == 3 {
			in.WriteString("\n   \n") // blank lines are skipped
		}
	}
	for _, flags := range [][]string{{"--tokenizer", filepath.Join(dir, "tokenizer.json")}, {"--model", dir}} {
		out, stderr, code := tokenizeRun(t, strings.NewReader(in.String()), flags...)
		if code != 0 {
			t.Fatalf("%v: exit %d: %s", flags, code, stderr)
		}
		lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
		if len(lines) != len(texts) {
			t.Fatalf("%v: %d output lines for %d inputs", flags, len(lines), len(texts))
		}
		var dec strings.Builder
		for i, l := range lines {
			var got struct {
				IDs []int `json:"ids"`
			}
			if err := json.Unmarshal([]byte(l), &got); err != nil || got.IDs == nil {
				t.Fatalf("line %d: %q: %v", i+1, l, err)
			}
			if !slices.Equal(got.IDs, want[i]) {
				t.Fatalf("line %d: ids %v, want %v", i+1, got.IDs, want[i])
			}
			dec.WriteString(l + "\n")
		}
		// --decode turns the ids back into the texts (after NFC, which the tokenizer applies).
		out, stderr, code = tokenizeRun(t, strings.NewReader(dec.String()), append(flags, "--decode")...)
		if code != 0 {
			t.Fatalf("decode: exit %d: %s", code, stderr)
		}
		outLines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
		if len(outLines) != len(texts) {
			t.Fatalf("decode: %d lines for %d inputs", len(outLines), len(texts))
		}
		for i, l := range outLines {
			var got struct {
				Text *string `json:"text"`
			}
			if err := json.Unmarshal([]byte(l), &got); err != nil || got.Text == nil {
				t.Fatalf("decode line %d: %q: %v", i+1, l, err)
			}
			if want := norm.NFC.String(texts[i]); *got.Text != want {
				t.Fatalf("decode line %d: %q, want NFC(text) %q", i+1, *got.Text, want)
			}
		}
	}
}

func TestTokenizeSpecialTokens(t *testing.T) {
	file := filepath.Join(projectTokenizerDir(t), "tokenizer.json")
	out, stderr, code := tokenizeRun(t, strings.NewReader(`{"text": "a<|endoftext|>"}`), "--tokenizer", file)
	if code != 0 || !strings.HasSuffix(out, ",0]}\n") {
		t.Fatalf("exit %d, out %q, stderr %s", code, out, stderr)
	}
	out, _, code = tokenizeRun(t, strings.NewReader(`{"ids": [0, 1, 0]}`+"\n"+`{"ids": []}`), "--tokenizer", file, "--decode")
	if code != 0 || out != "{\"text\":\"<|endoftext|><|padding|><|endoftext|>\"}\n{\"text\":\"\"}\n" {
		t.Fatalf("decode: exit %d, out %q", code, out)
	}
	out, _, code = tokenizeRun(t, strings.NewReader(`{"ids": [0, 1, 0]}`), "--tokenizer", file, "--decode", "--skip-special-tokens")
	if code != 0 || out != "{\"text\":\"\"}\n" {
		t.Fatalf("skip: exit %d, out %q", code, out)
	}
	out, _, code = tokenizeRun(t, strings.NewReader(`{"text": ""}`), "--tokenizer", file)
	if code != 0 || out != "{\"ids\":[]}\n" {
		t.Fatalf("empty text: exit %d, out %q", code, out)
	}
}

func TestTokenizeErrors(t *testing.T) {
	file := filepath.Join(projectTokenizerDir(t), "tokenizer.json")
	cases := []struct {
		name, stdin string
		args        []string
		code        int
		want        string
	}{
		{"no tokenizer", "", nil, 2, "exactly one of --tokenizer"},
		{"both", "", []string{"--tokenizer", file, "--model", filepath.Dir(file)}, 2, "exactly one of"},
		{"skip without decode", "", []string{"--tokenizer", file, "--skip-special-tokens"}, 2, "needs --decode"},
		{"missing file", "", []string{"--tokenizer", "/nonexistent/tokenizer.json"}, 1, "/nonexistent/tokenizer.json"},
		{"bad json on line 3", "{\"text\": \"a\"}\n{\"text\": \"b\"}\n{\"text\": \n", []string{"--tokenizer", file}, 1, "stdin line 3:"},
		{"missing text", "{\"text\": \"a\"}\n{\"ids\": [1]}\n", []string{"--tokenizer", file}, 1, "stdin line 2: missing field \"text\""},
		{"text not a string", "{\"text\": 5}\n", []string{"--tokenizer", file}, 1, "stdin line 1:"},
		{"missing ids", "{\"text\": \"a\"}\n", []string{"--tokenizer", file, "--decode"}, 1, "stdin line 1: missing field \"ids\""},
		{"ids not ints", "{\"ids\": [1]}\n\n{\"ids\": [1.5]}\n", []string{"--tokenizer", file, "--decode"}, 1, "stdin line 3:"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			out, stderr, code := tokenizeRun(t, strings.NewReader(c.stdin), c.args...)
			if code != c.code || !strings.Contains(stderr, c.want) {
				t.Fatalf("exit %d (want %d), stderr %q (want %q), stdout %q", code, c.code, stderr, c.want, out)
			}
		})
	}
	// Lines before the bad one are answered.
	out, _, _ := tokenizeRun(t, strings.NewReader("{\"text\": \"a\"}\n{\"text\": \"b\"}\nnot json\n"), "--tokenizer", file)
	if strings.Count(out, "\n") != 2 {
		t.Errorf("want 2 lines before the error, got %q", out)
	}
}

// slowReader hands out its input one line per Read and records what had been
// written to out before each Read, to check that output streams.
type slowReader struct {
	lines []string
	out   *bytes.Buffer
	seen  []int
}

func (r *slowReader) Read(p []byte) (int, error) {
	r.seen = append(r.seen, strings.Count(r.out.String(), "\n"))
	if len(r.lines) == 0 {
		return 0, io.EOF
	}
	n := copy(p, r.lines[0])
	r.lines = r.lines[1:]
	return n, nil
}

func TestTokenizeStreams(t *testing.T) {
	file := filepath.Join(projectTokenizerDir(t), "tokenizer.json")
	var out, errb bytes.Buffer
	r := &slowReader{lines: []string{"{\"text\": \"one\"}\n", "{\"text\": \"two\"}\n", "{\"text\": \"three\"}\n"}, out: &out}
	if code := runMain(context.Background(), []string{"tokenize", "--tokenizer", file}, r, &out, &errb); code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	// Before reading line k+1, the answers to lines 1..k were written.
	if want := []int{0, 1, 2, 3}; !slices.Equal(r.seen, want) {
		t.Errorf("lines written before each read = %v, want %v", r.seen, want)
	}
	// A long line (1 MB) goes through.
	long := strings.Repeat("word ", 200000)
	b, _ := json.Marshal(map[string]string{"text": long})
	o, stderr, code := tokenizeRun(t, bytes.NewReader(b), "--tokenizer", file)
	if code != 0 || !strings.HasPrefix(o, "{\"ids\":[") {
		t.Fatalf("long line: exit %d: %s", code, stderr)
	}
}

// familyGolden is an encode row of testdata/tokenizers/goldens.jsonl (see
// scripts/reference/tokenizer_pipeline_goldens.py).
type familyGolden struct {
	Kind   string  `json:"kind"`
	Name   string  `json:"name"`
	File   string  `json:"file"`
	Dir    string  `json:"dir"`
	Tok    string  `json:"tok"`
	Text   *string `json:"text"`
	IDs    []int   `json:"ids"`
	Plain  []int   `json:"plain"`
	Decode *string `json:"decode"`
	Auto   []int   `json:"auto"`
}

// TestTokenizeFamilies is the CLI contract on the real tokenizers: for each
// {"text"} line, --tokenizer FILE gives HF's Tokenizer.from_file(FILE).encode(text).ids,
// --add-special-tokens=false the plain encoding, --model DIR what transformers'
// AutoTokenizer gives, and --decode gives decode(ids, skip_special_tokens=False).
func TestTokenizeFamilies(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(filepath.Dir(projectTokenizerDir(t)), "tokenizers", "goldens.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	shared := filepath.Dir(filepath.Dir(testutil.Shared(t, "data", "pythia-tokenizer.json")))
	var heads []familyGolden
	rows := map[string][]familyGolden{}
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		var r familyGolden
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			t.Fatal(err)
		}
		switch {
		case r.Kind == "tokenizer" && !strings.Contains(line, `"patch"`):
			heads = append(heads, r)
		case r.Kind == "encode":
			rows[r.Tok] = append(rows[r.Tok], r)
		}
	}
	if len(heads) != 4 {
		t.Fatalf("%d unpatched tokenizers in the goldens, want 4", len(heads))
	}
	for _, h := range heads {
		t.Run(h.Name, func(t *testing.T) {
			var in strings.Builder
			var ids, plain, auto [][]int
			var texts []string
			for _, r := range rows[h.Name] {
				line, _ := json.Marshal(map[string]string{"text": *r.Text})
				in.Write(line)
				in.WriteString("\n")
				want := r.IDs
				if want == nil {
					want = r.Plain
				}
				ids, plain = append(ids, want), append(plain, r.Plain)
				a := r.Auto
				if a == nil {
					a = want
				}
				auto = append(auto, a)
				dec := *r.Text
				if r.Decode != nil {
					dec = *r.Decode
				}
				texts = append(texts, dec)
			}
			file := filepath.Join(shared, "data", h.File)
			check := func(want [][]int, args ...string) {
				t.Helper()
				out, stderr, code := tokenizeRun(t, strings.NewReader(in.String()), args...)
				if code != 0 {
					t.Fatalf("%v: exit %d: %s", args, code, stderr)
				}
				lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
				if len(lines) != len(want) {
					t.Fatalf("%v: %d lines for %d inputs", args, len(lines), len(want))
				}
				for i, l := range lines {
					var got struct {
						IDs []int `json:"ids"`
					}
					if err := json.Unmarshal([]byte(l), &got); err != nil || !slices.Equal(got.IDs, want[i]) {
						t.Fatalf("%v line %d: %s, want %v (%v)", args, i+1, l, want[i], err)
					}
				}
			}
			check(ids, "--tokenizer", file)
			check(plain, "--tokenizer", file, "--add-special-tokens=false")
			if h.Dir != "" {
				check(auto, "--model", filepath.Join(shared, "data", h.Dir))
			}
			var din strings.Builder
			for _, x := range ids {
				line, _ := json.Marshal(map[string][]int{"ids": x})
				din.Write(line)
				din.WriteString("\n")
			}
			out, stderr, code := tokenizeRun(t, strings.NewReader(din.String()), "--tokenizer", file, "--decode")
			if code != 0 {
				t.Fatalf("decode: exit %d: %s", code, stderr)
			}
			for i, l := range strings.Split(strings.TrimSuffix(out, "\n"), "\n") {
				var got struct {
					Text string `json:"text"`
				}
				if err := json.Unmarshal([]byte(l), &got); err != nil || got.Text != texts[i] {
					t.Fatalf("decode line %d: %s, want %q (%v)", i+1, l, texts[i], err)
				}
			}
		})
	}
}

// TestTokenizeCorruptFile: a tokenizer.json with a huge id is a clear error,
// not a panic or a huge allocation.
func TestTokenizeCorruptFile(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(projectTokenizerDir(t), "tokenizer.json"))
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	doc["model"].(map[string]any)["vocab"].(map[string]any)["zebra"] = 2000000000
	path := filepath.Join(t.TempDir(), "tokenizer.json")
	b, _ = json.Marshal(doc)
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	_, stderr, code := tokenizeRun(t, strings.NewReader(`{"text": "a"}`), "--tokenizer", path)
	if code != 1 || !strings.Contains(stderr, `token "zebra" has id 2000000000`) || !strings.Contains(stderr, path) {
		t.Fatalf("exit %d, stderr %q", code, stderr)
	}
}
