package tokenizer

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"

	sugar "github.com/sugarme/tokenizer"
)

// fileJSON is the top level of a Hugging Face tokenizer.json.
type fileJSON struct {
	Version       string              `json:"version"`
	Truncation    json.RawMessage     `json:"truncation"`
	Padding       json.RawMessage     `json:"padding"`
	AddedTokens   []sugar.TokenConfig `json:"added_tokens"`
	Normalizer    json.RawMessage     `json:"normalizer"`
	PreTokenizer  json.RawMessage     `json:"pre_tokenizer"`
	PostProcessor json.RawMessage     `json:"post_processor"`
	Decoder       json.RawMessage     `json:"decoder"`
	Model         json.RawMessage     `json:"model"`
}

// componentJSON holds the fields of the pipeline components we support; type
// tells which it is.
type componentJSON struct {
	Type             string            `json:"type"`
	AddPrefixSpace   *bool             `json:"add_prefix_space"`
	UseRegex         *bool             `json:"use_regex"`
	TrimOffsets      *bool             `json:"trim_offsets"`
	Normalizers      []json.RawMessage `json:"normalizers"`
	Pretokenizers    []json.RawMessage `json:"pretokenizers"`
	Processors       []json.RawMessage `json:"processors"`
	Decoders         []json.RawMessage `json:"decoders"`
	Pattern          json.RawMessage   `json:"pattern"`
	Content          *string           `json:"content"`
	Prepend          *string           `json:"prepend"`
	StripLeft        *bool             `json:"strip_left"`
	StripRight       *bool             `json:"strip_right"`
	Behavior         *string           `json:"behavior"`
	Invert           *bool             `json:"invert"`
	Replacement      *string           `json:"replacement"`
	PrependScheme    *string           `json:"prepend_scheme"`
	Split            *bool             `json:"split"`
	IndividualDigits *bool             `json:"individual_digits"`
	Start            *int              `json:"start"`
	Stop             *int              `json:"stop"`
	Single           []json.RawMessage `json:"single"`
	SpecialTokens    map[string]struct {
		ID     string   `json:"id"`
		IDs    []int64  `json:"ids"`
		Tokens []string `json:"tokens"`
	} `json:"special_tokens"`
}

func boolOr(p *bool, def bool) bool {
	if p != nil {
		return *p
	}
	return def
}

// modelJSON is a tokenizer.json "model" section.
type modelJSON struct {
	Type                    string          `json:"type"`
	Dropout                 *float64        `json:"dropout"`
	UnkToken                *string         `json:"unk_token"`
	ContinuingSubwordPrefix *string         `json:"continuing_subword_prefix"`
	EndOfWordSuffix         *string         `json:"end_of_word_suffix"`
	FuseUnk                 bool            `json:"fuse_unk"`
	ByteFallback            bool            `json:"byte_fallback"`
	IgnoreMerges            bool            `json:"ignore_merges"`
	Vocab                   map[string]int  `json:"vocab"`
	Merges                  json.RawMessage `json:"merges"`
}

func isNull(m json.RawMessage) bool {
	m = bytes.TrimSpace(m)
	return len(m) == 0 || bytes.Equal(m, []byte("null"))
}

func parseComponent(what string, m json.RawMessage) (*componentJSON, error) {
	if isNull(m) {
		return nil, nil
	}
	var c componentJSON
	if err := json.Unmarshal(m, &c); err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	if c.Type == "" {
		return nil, fmt.Errorf("%s: missing \"type\"", what)
	}
	return &c, nil
}

// unsupported is the error for a tokenizer.json component we do not implement.
func unsupported(what, typ string) error {
	return fmt.Errorf("%w: %s type %q is not supported (supported: BPE models with the normalizers, pre-tokenizers, decoders and post-processors listed in the package documentation)", ErrUnsupported, what, typ)
}

// parseMerges reads "merges" in either form: ["a b", ...] (tokenizers < 0.20)
// or [["a", "b"], ...] (newer files).
func parseMerges(m json.RawMessage) ([][2]string, error) {
	if isNull(m) {
		return nil, nil
	}
	// Decide the form from the first element, so the (large) list is
	// decoded once.
	pairForm := false
	if t := bytes.TrimSpace(m); len(t) > 0 && t[0] == '[' {
		if rest := bytes.TrimSpace(t[1:]); len(rest) > 0 {
			pairForm = rest[0] == '['
		}
	}
	var strs []string
	if pairForm {
		// fall through to the pair form
	} else if err := json.Unmarshal(m, &strs); err == nil {
		out := make([][2]string, len(strs))
		for i, s := range strs {
			a, b, ok := splitMerge(s)
			if !ok {
				return nil, fmt.Errorf("merges[%d] = %q: want two tokens separated by one space", i, s)
			}
			out[i] = [2]string{a, b}
		}
		return out, nil
	}
	var pairs [][]string
	if err := json.Unmarshal(m, &pairs); err != nil {
		return nil, fmt.Errorf("merges: want a list of \"a b\" strings or of [a, b] pairs: %w", err)
	}
	out := make([][2]string, len(pairs))
	for i, p := range pairs {
		if len(p) != 2 {
			return nil, fmt.Errorf("merges[%d]: want 2 tokens, got %d", i, len(p))
		}
		out[i] = [2]string{p[0], p[1]}
	}
	return out, nil
}

// splitMerge splits "a b" the way tokenizers does (exactly two parts).
func splitMerge(s string) (a, b string, ok bool) {
	i := strings.IndexByte(s, ' ')
	if i < 0 {
		return "", "", false
	}
	a, b = s[:i], s[i+1:]
	if strings.IndexByte(b, ' ') >= 0 {
		return "", "", false
	}
	return a, b, true
}

// parseSequence parses the components of a Sequence (field names the JSON
// list, for errors) and joins their steps in order.
func parseSequence[T any](path, field string, raws []json.RawMessage, parse func(*componentJSON, string) ([]T, error)) ([]T, error) {
	var all []T
	for i, raw := range raws {
		p := fmt.Sprintf("%s.%s[%d]", path, field, i)
		c, err := parseComponent(p, raw)
		if err != nil {
			return nil, err
		}
		if c == nil {
			return nil, fmt.Errorf("%s: null", p)
		}
		steps, err := parse(c, p)
		if err != nil {
			return nil, err
		}
		all = append(all, steps...)
	}
	return all, nil
}
