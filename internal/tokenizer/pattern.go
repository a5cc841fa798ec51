package tokenizer

import (
	"encoding/json"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/dlclark/regexp2"
)

// pattern is a tokenizer.json pattern: {"String": "..."} (a literal) or
// {"Regex": "..."}. Hugging Face compiles regexes with Oniguruma; we use
// github.com/dlclark/regexp2, a maintained backtracking engine with the same
// syntax for what tokenizer files use (look-ahead, \p{L}, \p{N}, (?i:...)).
type pattern struct {
	literal string
	re      *regexp2.Regexp
	// scan, for the split patterns of GPT-2, Qwen2 and Llama 3, matches
	// by hand (every character of the text is in some match): it returns the
	// end of the match at s[i:]. re is kept to check it against.
	scan func(s string, i int) int
}

type patternJSON struct {
	String *string `json:"String"`
	Regex  *string `json:"Regex"`
}

func parsePattern(raw json.RawMessage, path string) (pattern, error) {
	if isNull(raw) {
		return pattern{}, fmt.Errorf("%s: missing", path)
	}
	var p patternJSON
	if err := json.Unmarshal(raw, &p); err != nil {
		return pattern{}, fmt.Errorf("%s: want {\"String\": ...} or {\"Regex\": ...}: %w", path, err)
	}
	switch {
	case p.String != nil && p.Regex == nil:
		if *p.String == "" {
			return pattern{}, fmt.Errorf("%s: empty String pattern", path)
		}
		return pattern{literal: *p.String}, nil
	case p.Regex != nil && p.String == nil:
		re, err := compileRegex(*p.Regex)
		if err != nil {
			return pattern{}, fmt.Errorf("%s: regex %q: %w", path, *p.Regex, err)
		}
		return pattern{re: re, scan: knownScanner(*p.Regex)}, nil
	default:
		return pattern{}, fmt.Errorf("%s: want exactly one of \"String\" and \"Regex\"", path)
	}
}

// knownScanner returns the hand-written matcher of a known split pattern, or
// nil.
func knownScanner(expr string) func(s string, i int) int {
	switch expr {
	case qwenPattern:
		return func(s string, i int) int { return matchQwen(s, i, 1) }
	case llama3Pattern:
		return func(s string, i int) int { return matchQwen(s, i, 3) }
	case gpt2Pattern:
		return matchWord
	}
	return nil
}

func compileRegex(expr string) (*regexp2.Regexp, error) {
	re, err := regexp2.Compile(expr, regexp2.None)
	if err != nil {
		return nil, err
	}
	return re, nil
}

// find appends to dst the non-overlapping matches of the pattern in s, as
// byte ranges, leftmost first.
func (p pattern) find(s string, dst [][2]int) [][2]int {
	if p.scan != nil {
		for i := 0; i < len(s); {
			j := p.scan(s, i)
			dst = append(dst, [2]int{i, j})
			i = j
		}
		return dst
	}
	return p.findRegex(s, dst)
}

// findRegex is find without the hand-written scanners.
func (p pattern) findRegex(s string, dst [][2]int) [][2]int {
	if p.re == nil {
		for i := 0; i <= len(s); {
			j := strings.Index(s[i:], p.literal)
			if j < 0 {
				break
			}
			dst = append(dst, [2]int{i + j, i + j + len(p.literal)})
			i += j + len(p.literal)
		}
		return dst
	}
	if s == "" {
		return dst
	}
	runes := []rune(s)
	// byteAt[k] is the byte offset of rune k (regexp2 reports rune indexes).
	byteAt := make([]int, len(runes)+1)
	b := 0
	for k, r := range runes {
		byteAt[k] = b
		if r == utf8.RuneError {
			_, w := utf8.DecodeRuneInString(s[b:])
			b += w
		} else {
			b += utf8.RuneLen(r)
		}
	}
	byteAt[len(runes)] = b
	m, err := p.re.FindRunesMatch(runes)
	for err == nil && m != nil {
		dst = append(dst, [2]int{byteAt[m.Index], byteAt[m.Index+m.Length]})
		m, err = p.re.FindNextMatch(m)
	}
	return dst
}

// splitEvent is a piece of a text split by a pattern: a match or the text
// between matches.
type splitEvent struct {
	start, end int
	match      bool
}

// events turns matches into the alternating pieces of Hugging Face's
// Pattern::find_matches (empty text gives one empty non-match).
func events(s string, matches [][2]int, dst []splitEvent) []splitEvent {
	if s == "" {
		return append(dst, splitEvent{0, 0, false})
	}
	prev := 0
	for _, m := range matches {
		if prev != m[0] {
			dst = append(dst, splitEvent{prev, m[0], false})
		}
		dst = append(dst, splitEvent{m[0], m[1], true})
		prev = m[1]
	}
	if prev != len(s) {
		dst = append(dst, splitEvent{prev, len(s), false})
	}
	return dst
}

// charEvents is find_matches for a character predicate: every matching
// character is a match of its own.
func charEvents(s string, pred func(rune) bool, dst []splitEvent) []splitEvent {
	if s == "" {
		return append(dst, splitEvent{0, 0, false})
	}
	last := 0
	for i, r := range s {
		if pred(r) {
			w := utf8.RuneLen(r)
			if w < 0 {
				w = 1
			}
			if last < i {
				dst = append(dst, splitEvent{last, i, false})
			}
			dst = append(dst, splitEvent{i, i + w, true})
			last = i + w
		}
	}
	if len(s) > last {
		dst = append(dst, splitEvent{last, len(s), false})
	}
	return dst
}

// behavior is a SplitDelimiterBehavior.
type behavior int

const (
	bRemoved behavior = iota
	bIsolated
	bMergedWithPrevious
	bMergedWithNext
	bContiguous
)

var behaviors = map[string]behavior{
	"Removed": bRemoved, "Isolated": bIsolated, "MergedWithPrevious": bMergedWithPrevious,
	"MergedWithNext": bMergedWithNext, "Contiguous": bContiguous,
}

// splitBy appends to dst the pieces of n given the events of its text, as
// Hugging Face's NormalizedString::split does for each behaviour; empty
// pieces are dropped.
func splitBy(dst []nstr, n *nstr, evs []splitEvent, b behavior) []nstr {
	type piece struct {
		start, end int
		remove     bool
	}
	var ps []piece
	switch b {
	case bIsolated:
		for _, e := range evs {
			ps = append(ps, piece{e.start, e.end, false})
		}
	case bRemoved:
		for _, e := range evs {
			ps = append(ps, piece{e.start, e.end, e.match})
		}
	case bContiguous:
		prev := false
		for _, e := range evs {
			if e.match == prev && len(ps) > 0 {
				ps[len(ps)-1].end = e.end
			} else {
				ps = append(ps, piece{e.start, e.end, false})
			}
			prev = e.match
		}
	case bMergedWithPrevious:
		prev := false
		for _, e := range evs {
			if e.match && !prev && len(ps) > 0 {
				ps[len(ps)-1].end = e.end
			} else {
				ps = append(ps, piece{e.start, e.end, false})
			}
			prev = e.match
		}
	case bMergedWithNext:
		prev := false
		for k := len(evs) - 1; k >= 0; k-- {
			e := evs[k]
			if e.match && !prev && len(ps) > 0 {
				ps[len(ps)-1].start = e.start
			} else {
				ps = append(ps, piece{e.start, e.end, false})
			}
			prev = e.match
		}
		for i, j := 0, len(ps)-1; i < j; i, j = i+1, j-1 {
			ps[i], ps[j] = ps[j], ps[i]
		}
	}
	for _, p := range ps {
		if !p.remove && p.end > p.start {
			dst = append(dst, n.slice(p.start, p.end))
		}
	}
	return dst
}
