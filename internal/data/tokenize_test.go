package data

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

// byteEncoder is a test-only encoder: one id per byte (id = byte + 10),
// EOS = 1. It exists only to check truncation and masking arithmetic.
type byteEncoder struct{}

func (byteEncoder) Encode(s string) []int {
	out := make([]int, len(s))
	for i := 0; i < len(s); i++ {
		out[i] = int(s[i]) + 10
	}
	return out
}

func (byteEncoder) EOSID() int { return 1 }

func ids(s string) []int { return byteEncoder{}.Encode(s) }

func TestTokenizeDefaults(t *testing.T) {
	o := DefaultTokenizeOptions()
	if !o.AppendEOS || !o.TruncateLeft || o.ContextLength != 2048 || o.MaxLength != 0 || o.AnswerOnlyLoss || o.PromptTemplate != "" {
		t.Fatalf("defaults %+v", o)
	}
	got, err := Tokenize([]Example{{Input: "ab", Output: "cd"}}, byteEncoder{}, o)
	if err != nil {
		t.Fatal(err)
	}
	want := append(ids("abcd"), 1)
	if !reflect.DeepEqual(got[0].InputIDs, want) || !reflect.DeepEqual(got[0].Labels, want) || got[0].Truncated != 0 {
		t.Fatalf("got %+v, want ids=labels=%v", got[0], want)
	}
}

func TestTokenizeTruncation(t *testing.T) {
	ex := []Example{{Input: "question", Output: "answer"}} // 14 bytes + EOS = 15 tokens
	cases := []struct {
		name   string
		opts   TokenizeOptions
		ids    []int
		labels []int
		cut    int
	}{
		{"left by max length", TokenizeOptions{AppendEOS: true, MaxLength: 5, ContextLength: 2048, TruncateLeft: true},
			append(ids("swer"), 1), append(ids("swer"), 1), 10},
		{"left by context", TokenizeOptions{AppendEOS: true, ContextLength: 4, TruncateLeft: true},
			append(ids("wer"), 1), append(ids("wer"), 1), 11},
		{"max length above context", TokenizeOptions{AppendEOS: true, MaxLength: 100, ContextLength: 6, TruncateLeft: true},
			append(ids("nswer"), 1), append(ids("nswer"), 1), 9},
		{"right", TokenizeOptions{AppendEOS: true, MaxLength: 5},
			ids("quest"), ids("quest"), 10},
		{"no limit", TokenizeOptions{},
			ids("questionanswer"), ids("questionanswer"), 0},
		{"exact fit", TokenizeOptions{AppendEOS: true, MaxLength: 15, TruncateLeft: true},
			append(ids("questionanswer"), 1), append(ids("questionanswer"), 1), 0},
		{"answer only", TokenizeOptions{AppendEOS: true, AnswerOnlyLoss: true},
			append(ids("questionanswer"), 1), append(fill(8, IgnoreIndex), append(ids("answer"), 1)...), 0},
		{"answer only, left cut inside prompt", TokenizeOptions{AppendEOS: true, AnswerOnlyLoss: true, MaxLength: 10, TruncateLeft: true},
			append(ids("ionanswer"), 1), append(fill(3, IgnoreIndex), append(ids("answer"), 1)...), 5},
		{"answer only, left cut past prompt", TokenizeOptions{AppendEOS: true, AnswerOnlyLoss: true, MaxLength: 3, TruncateLeft: true},
			append(ids("er"), 1), append(ids("er"), 1), 12},
		{"answer only, right cut inside prompt", TokenizeOptions{AnswerOnlyLoss: true, MaxLength: 4},
			ids("ques"), fill(4, IgnoreIndex), 10},
		{"template", TokenizeOptions{PromptTemplate: "Q:{input}\nA:", AnswerOnlyLoss: true},
			ids("Q:question\nA:answer"), append(fill(13, IgnoreIndex), ids("answer")...), 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := Tokenize(ex, byteEncoder{}, c.opts)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got[0].InputIDs, c.ids) {
				t.Errorf("ids %v, want %v", got[0].InputIDs, c.ids)
			}
			if !reflect.DeepEqual(got[0].Labels, c.labels) {
				t.Errorf("labels %v, want %v", got[0].Labels, c.labels)
			}
			if got[0].Truncated != c.cut {
				t.Errorf("truncated %d, want %d", got[0].Truncated, c.cut)
			}
		})
	}
}

func fill(n, v int) []int {
	out := make([]int, n)
	for i := range out {
		out[i] = v
	}
	return out
}

// mergingEncoder merges "r a" into one token to model a BPE token that
// straddles the prompt/answer boundary.
type mergingEncoder struct{}

func (mergingEncoder) Encode(s string) []int {
	var out []int
	for i := 0; i < len(s); i++ {
		if strings.HasPrefix(s[i:], "r a") {
			out = append(out, 999)
			i += 2
			continue
		}
		out = append(out, int(s[i]))
	}
	return out
}
func (mergingEncoder) EOSID() int { return 0 }

func TestTokenizeAnswerOnlyStraddlingToken(t *testing.T) {
	got, err := Tokenize([]Example{{Input: "Q", Output: " a"}}, mergingEncoder{}, TokenizeOptions{AnswerOnlyLoss: true, PromptTemplate: "{input} Answer:r"})
	if err != nil {
		t.Fatal(err)
	}
	// "Q Answer:r a" → Q ␠ A n s w e r : [r␠a]; encode(prompt) ends in a
	// lone "r", so the 9-token common prefix is masked and the straddling
	// token is learned.
	want := append(fill(9, IgnoreIndex), 999)
	if !reflect.DeepEqual(got[0].Labels, want) {
		t.Fatalf("labels %v, want %v", got[0].Labels, want)
	}
}

func TestTokenizeErrors(t *testing.T) {
	ex := []Example{{Input: "a", Output: "b"}}
	for _, o := range []TokenizeOptions{{MaxLength: -1}, {ContextLength: -1}, {PromptTemplate: "no placeholder"}} {
		if _, err := Tokenize(ex, byteEncoder{}, o); err == nil {
			t.Errorf("options %+v accepted", o)
		}
	}
	if _, err := Tokenize(ex, nil, DefaultTokenizeOptions()); err == nil {
		t.Error("nil encoder accepted")
	}
	_, err := Tokenize([]Example{{Input: "a"}, {Row: 7}}, byteEncoder{}, TokenizeOptions{})
	if !errors.Is(err, ErrNoTokens) || !strings.Contains(err.Error(), "row 7") {
		t.Errorf("empty row: %v", err)
	}
}

func TestLengths(t *testing.T) {
	rows, err := Tokenize([]Example{{Input: "a"}, {Input: "abc"}}, byteEncoder{}, DefaultTokenizeOptions())
	if err != nil {
		t.Fatal(err)
	}
	if got := Lengths(rows); !reflect.DeepEqual(got, []int{2, 4}) {
		t.Fatalf("lengths %v", got)
	}
}
