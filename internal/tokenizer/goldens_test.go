package tokenizer

import (
	"bufio"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"golang.org/x/text/unicode/norm"
)

// goldenRow is a row of testdata/tokenizer/goldens.jsonl, written by
// scripts/reference/tokenizer_goldens.py with HF tokenizers and transformers.
type goldenRow struct {
	Kind string `json:"kind"`
	Name string `json:"name"`
	// meta
	VocabSize  int      `json:"vocab_size"`
	EOS        *int     `json:"eos"`
	BOS        *int     `json:"bos"`
	Unk        *int     `json:"unk"`
	Pad        *int     `json:"pad"`
	CleanUp    bool     `json:"clean_up_tokenization_spaces"`
	SpecialIDs []int    `json:"special_ids"`
	Tokens     []string `json:"tokens"`
	ByteChars  []string `json:"byte_chars"`
	// encode / decode
	Text     *string `json:"text"`
	BytesHex *string `json:"bytes_hex"`
	IDs      []int   `json:"ids"`
	// Decodes; an absent field equals the text.
	Decode             *string `json:"decode"`
	DecodeSkip         *string `json:"decode_skip"`
	DecodeTransformers *string `json:"decode_transformers"`
}

func readGoldens(t *testing.T) []goldenRow {
	t.Helper()
	path := filepath.Join(testTokenizerDir(t), "goldens.jsonl")
	f, err := os.Open(path)
	if err != nil {
		t.Fatalf("%v (run scripts/reference/tokenizer_goldens.py)", err)
	}
	defer f.Close()
	var rows []goldenRow
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<24)
	for n := 1; sc.Scan(); n++ {
		var r goldenRow
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatalf("%s line %d: %v", path, n, err)
		}
		rows = append(rows, r)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if len(rows) < 100 {
		t.Fatalf("%s: only %d rows", path, len(rows))
	}
	return rows
}

func or(p *string, def string) string {
	if p != nil {
		return *p
	}
	return def
}

func intOr(p *int) int {
	if p == nil {
		return -1
	}
	return *p
}

// checkGoldens compares tok with every row of the goldens.
func checkGoldens(t *testing.T, tok *Tokenizer, rows []goldenRow) {
	var encodes, decodes int
	for _, r := range rows {
		switch r.Kind {
		case "meta":
			checkMeta(t, tok, r)
		case "encode":
			encodes++
			var text, want string
			switch {
			case r.Text != nil:
				text = *r.Text
				want = text
			case r.BytesHex != nil:
				b, err := hex.DecodeString(*r.BytesHex)
				if err != nil {
					t.Fatalf("%s: %v", r.Name, err)
				}
				text = string(b)
				want = toValidUTF8(text) // goldens leave out decodes equal to Python's lossy text
				if decoded := or(r.Decode, want); decoded != want {
					t.Errorf("%s: golden decode %q != lossy text %q", r.Name, decoded, want)
				}
			default:
				t.Fatalf("%s: row has neither text nor bytes_hex", r.Name)
			}
			if got := tok.Encode(text); !slices.Equal(got, r.IDs) {
				t.Errorf("%s: Encode(%q)\n got  %v\n want %v", r.Name, trunc(text), got, r.IDs)
			}
			checkDecodes(t, tok, r, want)
		case "decode":
			decodes++
			checkDecodes(t, tok, r, "")
		default:
			t.Fatalf("%s: unknown kind %q", r.Name, r.Kind)
		}
	}
	if encodes < 100 || decodes < 5 {
		t.Fatalf("goldens: %d encode rows, %d decode rows", encodes, decodes)
	}
}

func checkDecodes(t *testing.T, tok *Tokenizer, r goldenRow, text string) {
	t.Helper()
	if r.Kind == "decode" && (r.Decode == nil || r.DecodeSkip == nil || r.DecodeTransformers == nil) {
		t.Fatalf("%s: decode row without expected texts", r.Name)
	}
	if got, want := tok.Decode(r.IDs, false), or(r.Decode, text); got != want {
		t.Errorf("%s: Decode(skip=false) = %q, want %q", r.Name, trunc(got), trunc(want))
	}
	if got, want := tok.Decode(r.IDs, true), or(r.DecodeSkip, text); got != want {
		t.Errorf("%s: Decode(skip=true) = %q, want %q", r.Name, trunc(got), trunc(want))
	}
	if got, want := tok.DecodeTransformers(r.IDs, true), or(r.DecodeTransformers, text); got != want {
		t.Errorf("%s: DecodeTransformers = %q, want %q", r.Name, trunc(got), trunc(want))
	}
}

func checkMeta(t *testing.T, tok *Tokenizer, r goldenRow) {
	t.Helper()
	if got := tok.VocabSize(); got != r.VocabSize {
		t.Errorf("VocabSize = %d, want %d", got, r.VocabSize)
	}
	if got, want := tok.EOSID(), intOr(r.EOS); got != want {
		t.Errorf("EOSID = %d, want %d", got, want)
	}
	if got, want := tok.BOSID(), intOr(r.BOS); got != want {
		t.Errorf("BOSID = %d, want %d", got, want)
	}
	if got, want := tok.UnkID(), intOr(r.Unk); got != want {
		t.Errorf("UnkID = %d, want %d", got, want)
	}
	pad, ok := tok.PadID()
	if want := intOr(r.Pad); (want >= 0) != ok || (ok && pad != want) {
		t.Errorf("PadID = %d, %v; want %d", pad, ok, want)
	}
	if got := tok.CleanUpTokenizationSpaces(); got != r.CleanUp {
		t.Errorf("CleanUpTokenizationSpaces = %v, want %v", got, r.CleanUp)
	}
	var special []int
	for id := range r.Tokens {
		if tok.IsSpecial(id) {
			special = append(special, id)
		}
	}
	if !slices.Equal(special, r.SpecialIDs) {
		t.Errorf("special ids = %v, want %v", special, r.SpecialIDs)
	}
	if len(r.Tokens) != r.VocabSize {
		t.Fatalf("meta: %d tokens for vocab size %d", len(r.Tokens), r.VocabSize)
	}
	for id, want := range r.Tokens {
		if got, ok := tok.IDToToken(id); !ok || got != want {
			t.Errorf("IDToToken(%d) = %q, %v; want %q", id, got, ok, want)
		}
		if got, ok := tok.TokenToID(want); !ok || got != id {
			t.Errorf("TokenToID(%q) = %d, %v; want %d", want, got, ok, id)
		}
	}
	if _, ok := tok.IDToToken(r.VocabSize); ok {
		t.Errorf("IDToToken(%d) exists", r.VocabSize)
	}
	// sugarme's byte table must be GPT-2's bytes_to_unicode.
	if len(r.ByteChars) != 256 {
		t.Fatalf("meta: %d byte_chars", len(r.ByteChars))
	}
	for b, want := range r.ByteChars {
		if got := string(byteChar[b]); got != want {
			t.Errorf("byte %#x -> %q, want %q", b, got, want)
		}
	}
}

// TestGoldens: the project tokenizer against HF tokenizers/transformers
// (tokenizer.json alone, the model directory, and transformers' re-saved form).
func TestGoldens(t *testing.T) {
	rows := readGoldens(t)
	dir := testTokenizerDir(t)
	t.Run("LoadFile", func(t *testing.T) {
		tok, err := LoadFile(filepath.Join(dir, "tokenizer.json"))
		if err != nil {
			t.Fatal(err)
		}
		checkGoldens(t, tok, rows)
	})
	t.Run("Load", func(t *testing.T) {
		tok, err := Load(dir)
		if err != nil {
			t.Fatal(err)
		}
		checkGoldens(t, tok, rows)
	})
	t.Run("TransformersSaved", func(t *testing.T) {
		tok, err := Load(filepath.Join(dir, "transformers-saved"))
		if err != nil {
			t.Fatal(err)
		}
		checkGoldens(t, tok, rows)
	})
}

// TestGoldensRoundTrip: every golden text without special-token text decodes
// back to its NFC form.
func TestGoldensRoundTrip(t *testing.T) {
	tok, err := Load(testTokenizerDir(t))
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range readGoldens(t) {
		if r.Kind != "encode" || r.Text == nil {
			continue
		}
		if got, want := tok.Decode(tok.Encode(*r.Text), false), norm.NFC.String(*r.Text); got != want {
			t.Errorf("%s: Decode(Encode(text)) = %q, want %q", r.Name, trunc(got), trunc(want))
		}
	}
}
