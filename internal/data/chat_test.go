package data

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/golamini/golamini/internal/chat"
	"github.com/golamini/golamini/internal/testutil"
	"github.com/golamini/golamini/internal/tokenizer"
)

func TestAssistantLabels(t *testing.T) {
	// text: "u: hi\na: hello<e>\n" with tokens "u", ":", " hi", "\n", "a", ":", " hel", "lo", "<e>", "\n"
	ids := []int{10, 11, 12, 13, 14, 11, 15, 16, 2, 13}
	offsets := [][2]int{{0, 1}, {1, 2}, {2, 5}, {5, 6}, {6, 7}, {7, 8}, {8, 12}, {12, 14}, {14, 17}, {17, 18}}
	// The reply starts at "hello" (byte 9): " hel" crosses the edge and is learned.
	got := AssistantLabels(ids, offsets, []chat.Span{{Start: 9, End: 17}})
	want := []int{-100, -100, -100, -100, -100, -100, 15, 16, 2, -100}
	if !slices.Equal(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
	got = AssistantLabels(ids, offsets, []chat.Span{{Start: 0, End: 1}, {Start: 12, End: 14}})
	want = []int{10, -100, -100, -100, -100, -100, -100, 16, -100, -100}
	if !slices.Equal(got, want) {
		t.Errorf("two spans: got %v, want %v", got, want)
	}
}

func TestReadChatJSONLines(t *testing.T) {
	dir := t.TempDir()
	good := "\ufeff" + `{"messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello."}], "id": 7}` + "\r\n\n" +
		`{"messages": [{"role": "user", "content": "Weather?"}, {"role": "assistant", "content": "", "tool_calls": [{"type": "function", "function": {"name": "w", "arguments": {}}}]}], "tools": [{"type": "function", "function": {"name": "w"}}]}`
	p := filepath.Join(dir, "chat.jsonl")
	os.WriteFile(p, []byte(good), 0o644)
	convs, err := ReadChatJSONLines(p)
	if err != nil {
		t.Fatal(err)
	}
	if len(convs) != 2 || len(convs[0].Messages) != 3 || convs[0].Messages[2].Content != "Hello." || convs[1].Row != 1 || len(convs[1].Tools) != 1 {
		t.Fatalf("%+v", convs)
	}
	for _, c := range []struct{ body, want string }{
		{`{"msgs": []}`, `line 1: key "messages": missing key`},
		{"\n" + `{"messages": [{"role": "user", "content": "x"}]}`, "line 2: key \"messages\": malformed row: no assistant message"},
		{`{"messages": [{"content": "x"}]}`, `message has no string "role"`},
		{`{"messages": []}`, "the list is empty"},
		{`[1]`, "not a JSON object"},
		{`{"messages": [{"role": "assistant", "content": "x"}], "tools": 3}`, `key "tools"`},
		{"", "no rows"},
	} {
		os.WriteFile(p, []byte(c.body), 0o644)
		_, err := ReadChatJSONLines(p)
		var ie *InputError
		if err == nil || !errors.As(err, &ie) || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), "chat.jsonl") {
			t.Errorf("%q: got %v, want %q", c.body, err, c.want)
		}
	}
}

// chatGolden is a row of testdata/chat/goldens.json with the labels transformers would mark.
type chatGolden struct {
	Template      string         `json:"template"`
	Name          string         `json:"name"`
	Messages      []chat.Message `json:"messages"`
	Tools         []json.RawMessage
	Text          string `json:"text"`
	IDs           []int  `json:"ids"`
	AssistantMask []int  `json:"assistant_mask"`
}

// TestTokenizeChatMatchesTransformers: for the real Qwen2.5 and SmolLM2 tokenizers and templates,
// TokenizeChat's ids are apply_chat_template's and its labels are exactly the tokens transformers
// marks for the assistant replies and their end-of-turn token (scripts/reference/chat_goldens.py).
func TestTokenizeChatMatchesTransformers(t *testing.T) {
	b, err := os.ReadFile(testutil.Testdata(t, "chat", "goldens.json"))
	if err != nil {
		t.Fatal(err)
	}
	var g struct{ Cases []chatGolden }
	if err := json.Unmarshal(b, &g); err != nil {
		t.Fatal(err)
	}
	checked := 0
	for _, name := range []string{"qwen2.5", "smollm2"} {
		dir := testutil.Shared(t, "data", "tokenizers", name)
		tok, err := tokenizer.Load(dir)
		if err != nil {
			t.Fatal(err)
		}
		var enc OffsetEncoder = tok
		set, err := chat.Load(dir)
		if err != nil {
			t.Fatal(err)
		}
		tm, err := set.Template("", false)
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range g.Cases {
			if c.Template != name || c.AssistantMask == nil {
				continue
			}
			rows, err := TokenizeChat([]Conversation{{Messages: c.Messages, Tools: c.Tools}}, tm, enc, ChatTokenizeOptions{EndOfTurn: set.Special["eos_token"]})
			if err != nil {
				t.Fatalf("%s/%s: %v", name, c.Name, err)
			}
			r := rows[0]
			if !slices.Equal(r.InputIDs, c.IDs) {
				t.Errorf("%s/%s: ids differ from apply_chat_template's", name, c.Name)
				continue
			}
			for i, m := range c.AssistantMask {
				want := IgnoreIndex
				if m == 1 {
					want = c.IDs[i]
				}
				if r.Labels[i] != want {
					t.Errorf("%s/%s token %d (%d): label %d, want %d", name, c.Name, i, c.IDs[i], r.Labels[i], want)
				}
			}
			checked++
		}
	}
	if checked < 8 {
		t.Fatal("no golden checked")
	}
}

// TestChatEndOfTurnKeepsLabelWhenPadIsEOS: SmolLM2's pad token is its end-of-turn token <|im_end|>.
// After collation with that pad id, each reply's <|im_end|> is still learned; only the padding
// (found by position) is -100 with attention mask 0.
func TestChatEndOfTurnKeepsLabelWhenPadIsEOS(t *testing.T) {
	dir := testutil.Shared(t, "data", "tokenizers", "smollm2")
	tok, err := tokenizer.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	var enc OffsetEncoder = tok
	set, err := chat.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	tm, err := set.Template("", false)
	if err != nil {
		t.Fatal(err)
	}
	eot := set.Special["eos_token"]
	pad, ok := tok.PadID()
	eotID, _ := tok.TokenToID(eot)
	if !ok || pad != eotID || pad != tok.EOSID() {
		t.Fatalf("SmolLM2's pad %d (%v) should be its eos/end of turn %d", pad, ok, eotID)
	}
	convs := ChatFromPairs([]Example{{Input: "Hi", Output: "Hello."}, {Input: "A longer question here?", Output: "A much longer answer, with more words in it."}})
	rows, err := TokenizeChat(convs, tm, enc, ChatTokenizeOptions{EndOfTurn: eot})
	if err != nil {
		t.Fatal(err)
	}
	b := Collate(rows, pad, 0)
	short := rows[0]
	if len(short.InputIDs) >= b.Width() {
		t.Fatal("the first row should be padded")
	}
	// Labels of row 0: the reply "Hello." and the <|im_end|> after it, nothing of the prompt.
	var learned []int
	for _, l := range b.Labels[0] {
		if l != IgnoreIndex {
			learned = append(learned, l)
		}
	}
	if got := tok.Decode(learned, false); got != "Hello.<|im_end|>" {
		t.Errorf("row 0 learns %q", got)
	}
	for j := len(short.InputIDs); j < b.Width(); j++ {
		if b.InputIDs[0][j] != pad || b.Labels[0][j] != IgnoreIndex || b.Mask[0][j] != 0 {
			t.Errorf("padding at %d: id %d label %d mask %d", j, b.InputIDs[0][j], b.Labels[0][j], b.Mask[0][j])
		}
	}
}
