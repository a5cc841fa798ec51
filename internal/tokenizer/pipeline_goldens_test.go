package tokenizer

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// pipelineRow is a row of testdata/tokenizers/goldens.jsonl, written by
// scripts/reference/tokenizer_pipeline_goldens.py with HF tokenizers 0.23.3
// and transformers 5 from the real tokenizers in ../shared/data.
type pipelineRow struct {
	Kind  string                     `json:"kind"`
	Name  string                     `json:"name"`
	File  string                     `json:"file"`
	Dir   string                     `json:"dir"`
	Patch map[string]json.RawMessage `json:"patch"`

	Tok        string   `json:"tok"`
	Text       *string  `json:"text"`
	IDs        []int    `json:"ids"`
	Plain      []int    `json:"plain"`
	Offsets    [][2]int `json:"offsets"`
	Decode     *string  `json:"decode"`
	DecodeSkip *string  `json:"decode_skip"`
	Auto       []int    `json:"auto"`

	ConfigPatch map[string]json.RawMessage `json:"config_patch"`

	BOS, EOS, Unk, Pad *int
	VocabSize          int   `json:"vocab_size"`
	SpecialIDs         []int `json:"special_ids"`
	CleanUp            bool  `json:"clean_up_tokenization_spaces"`
}

func readPipelineGoldens(t testing.TB) []pipelineRow {
	t.Helper()
	path := filepath.Join(repoRoot(t), "testdata", "tokenizers", "goldens.jsonl")
	f, err := os.Open(path)
	if err != nil {
		t.Fatalf("%v (run scripts/reference/tokenizer_pipeline_goldens.py)", err)
	}
	defer f.Close()
	var rows []pipelineRow
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<24)
	for n := 1; sc.Scan(); n++ {
		var r pipelineRow
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatalf("%s line %d: %v", path, n, err)
		}
		rows = append(rows, r)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return rows
}

// patchedJSON is the shared tokenizer file with the row's top-level keys
// replaced (and "model_patch" merged into "model"), as the reference script
// built it.
func patchedJSON(t testing.TB, file string, patch map[string]json.RawMessage) []byte {
	t.Helper()
	b, err := os.ReadFile(sharedFile(t, file))
	if err != nil {
		t.Fatal(err)
	}
	if len(patch) == 0 {
		return b
	}
	var doc map[string]json.RawMessage
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	for k, v := range patch {
		if k == "model_patch" {
			var model, mp map[string]json.RawMessage
			if err := json.Unmarshal(doc["model"], &model); err != nil {
				t.Fatal(err)
			}
			if err := json.Unmarshal(v, &mp); err != nil {
				t.Fatal(err)
			}
			for mk, mv := range mp {
				model[mk] = mv
			}
			if doc["model"], err = json.Marshal(model); err != nil {
				t.Fatal(err)
			}
			continue
		}
		doc[k] = v
	}
	out, err := json.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// goldenTokenizers loads every tokenizer the goldens name: from_file form
// and, for model folders, the AutoTokenizer form (Load).
func goldenTokenizers(t testing.TB, rows []pipelineRow) (file, auto map[string]*Tokenizer) {
	file, auto = map[string]*Tokenizer{}, map[string]*Tokenizer{}
	for _, r := range rows {
		if r.Kind != "tokenizer" && r.Kind != "config" {
			continue
		}
		if r.Kind == "config" {
			cfg := patchedJSON(t, filepath.Join(r.Dir, "tokenizer_config.json"), r.ConfigPatch)
			a, err := FromJSON(patchedJSON(t, filepath.Join(r.Dir, "tokenizer.json"), nil), cfg)
			if err != nil {
				t.Fatalf("%s: %v", r.Name, err)
			}
			auto[r.Name] = a
			continue
		}
		tok, err := FromJSON(patchedJSON(t, r.File, r.Patch), nil)
		if err != nil {
			t.Fatalf("%s: %v", r.Name, err)
		}
		file[r.Name] = tok
		if r.Dir != "" {
			a, err := Load(filepath.Dir(sharedFile(t, filepath.Join(r.Dir, "tokenizer.json"))))
			if err != nil {
				t.Fatalf("%s: Load: %v", r.Name, err)
			}
			auto[r.Name] = a
		}
	}
	return file, auto
}

// TestPipelineGoldens compares encodings (with and without special tokens,
// with offsets), decodings and transformers' AutoTokenizer encodings with HF
// on the real tokenizers and on variants that use every implemented
// component.
func TestPipelineGoldens(t *testing.T) {
	rows := readPipelineGoldens(t)
	file, auto := goldenTokenizers(t, rows)
	counts := map[string]int{}
	for _, r := range rows {
		if r.Kind == "tokenizer" || r.Kind == "config" {
			continue
		}
		if r.Kind == "meta" {
			// AutoTokenizer's special-token ids, size and clean-up setting.
			a := auto[r.Tok]
			if a.BOSID() != intOr(r.BOS) || a.EOSID() != intOr(r.EOS) || a.UnkID() != intOr(r.Unk) {
				t.Errorf("%s: bos/eos/unk = %d/%d/%d, want %d/%d/%d", r.Tok, a.BOSID(), a.EOSID(), a.UnkID(), intOr(r.BOS), intOr(r.EOS), intOr(r.Unk))
			}
			if pad, ok := a.PadID(); (r.Pad != nil) != ok || (ok && pad != *r.Pad) {
				t.Errorf("%s: PadID = %d, %v, want %v", r.Tok, pad, ok, intOr(r.Pad))
			}
			if a.VocabSize() != r.VocabSize {
				t.Errorf("%s: VocabSize = %d, want %d", r.Tok, a.VocabSize(), r.VocabSize)
			}
			for _, id := range r.SpecialIDs {
				if !a.IsSpecial(id) {
					t.Errorf("%s: id %d is not special", r.Tok, id)
				}
			}
			if a.CleanUpTokenizationSpaces() != r.CleanUp {
				t.Errorf("%s: CleanUpTokenizationSpaces = %v, want %v", r.Tok, a.CleanUpTokenizationSpaces(), r.CleanUp)
			}
			continue
		}
		if r.Kind == "auto" {
			// tokenizer_config.json variants (add_bos_token / add_eos_token).
			counts[r.Tok]++
			if got := auto[r.Tok].EncodeWithSpecialTokens(*r.Text); !slices.Equal(got, r.Auto) {
				t.Errorf("%s %q: FromJSON(tokenizer.json, config).EncodeWithSpecialTokens\n got  %v\n want %v", r.Tok, *r.Text, got, r.Auto)
			}
			continue
		}
		tok := file[r.Tok]
		if tok == nil {
			t.Fatalf("row for unknown tokenizer %q", r.Tok)
		}
		switch r.Kind {
		case "encode":
			counts[r.Tok]++
			text := *r.Text
			ids := r.IDs
			if ids == nil {
				ids = r.Plain
			}
			name := fmt.Sprintf("%s %q", r.Tok, trunc(text))
			if got := tok.Encode(text); !slices.Equal(got, r.Plain) {
				t.Errorf("%s: Encode\n got  %v\n want %v", name, got, r.Plain)
			}
			if got := tok.EncodeWithSpecialTokens(text); !slices.Equal(got, ids) {
				t.Errorf("%s: EncodeWithSpecialTokens\n got  %v\n want %v", name, got, ids)
			}
			gotIDs, gotOffs := tok.EncodeOffsets(text)
			if !slices.Equal(gotIDs, r.Plain) {
				t.Errorf("%s: EncodeOffsets ids\n got  %v\n want %v", name, gotIDs, r.Plain)
			} else if !slices.Equal(gotOffs, r.Offsets) {
				t.Errorf("%s: EncodeOffsets offsets\n got  %v\n want %v", name, gotOffs, r.Offsets)
			}
			wantDec := or(r.Decode, text)
			if got := tok.Decode(ids, false); got != wantDec {
				t.Errorf("%s: Decode(skip=false) = %q, want %q", name, trunc(got), trunc(wantDec))
			}
			if got, want := tok.Decode(ids, true), or(r.DecodeSkip, wantDec); got != want {
				t.Errorf("%s: Decode(skip=true) = %q, want %q", name, trunc(got), trunc(want))
			}
			if a := auto[r.Tok]; a != nil {
				want := r.Auto
				if want == nil {
					want = ids
				}
				if got := a.EncodeWithSpecialTokens(text); !slices.Equal(got, want) {
					t.Errorf("%s: Load(dir).EncodeWithSpecialTokens (AutoTokenizer)\n got  %v\n want %v", name, got, want)
				}
				if got := a.Encode(text); !slices.Equal(got, r.Plain) {
					t.Errorf("%s: Load(dir).Encode\n got  %v\n want %v", name, got, r.Plain)
				}
			}
		case "decode":
			if got, want := tok.Decode(r.IDs, false), *r.Decode; got != want {
				t.Errorf("%s: Decode(%v, false) = %q, want %q", r.Tok, r.IDs, got, want)
			}
			if got, want := tok.Decode(r.IDs, true), or(r.DecodeSkip, *r.Decode); got != want {
				t.Errorf("%s: Decode(%v, true) = %q, want %q", r.Tok, r.IDs, got, want)
			}
		default:
			t.Fatalf("unknown row kind %q", r.Kind)
		}
	}
	for name := range file {
		if counts[name] < 50 {
			t.Errorf("%s: only %d encode rows", name, counts[name])
		}
	}
	for name := range auto {
		if _, ok := file[name]; !ok && counts[name] < 10 {
			t.Errorf("%s: only %d auto rows", name, counts[name])
		}
	}
}
