package tokenizer

import (
	"unicode"
	"unicode/utf8"
)

// addedToken is one entry of tokenizer.json's "added_tokens".
type addedToken struct {
	id         int
	content    string
	special    bool
	normalized bool
	singleWord bool
	lstrip     bool
	rstrip     bool
}

// matcher finds added tokens in text, leftmost-longest and non-overlapping,
// like the Aho-Corasick automaton (MatchKind::LeftmostLongest) of Hugging
// Face's AddedVocabulary: at the first position where any token matches, the
// longest token starting there wins; the search resumes after it.
type matcher struct {
	nodes []trieNode
	first [256]bool // bytes that start some pattern
	empty bool
}

type trieNode struct {
	keys  []byte  // child edges (added tokens share few prefixes, so a linear scan is fastest)
	next  []int32 // child node of keys[k]
	token int32   // index into the tokens slice the matcher was built with, or -1
}

func (n *trieNode) child(c byte) int32 {
	for k, b := range n.keys {
		if b == c {
			return n.next[k]
		}
	}
	return -1
}

// newMatcher builds a matcher over pattern strings; pattern i reports i.
func newMatcher(patterns []string) *matcher {
	m := &matcher{nodes: []trieNode{{token: -1}}, empty: true}
	for i, p := range patterns {
		if p == "" {
			continue
		}
		m.empty = false
		m.first[p[0]] = true
		n := int32(0)
		for j := 0; j < len(p); j++ {
			nx := m.nodes[n].child(p[j])
			if nx < 0 {
				nx = int32(len(m.nodes))
				m.nodes[n].keys = append(m.nodes[n].keys, p[j])
				m.nodes[n].next = append(m.nodes[n].next, nx)
				m.nodes = append(m.nodes, trieNode{token: -1})
			}
			n = nx
		}
		if m.nodes[n].token < 0 { // the first of duplicate patterns wins
			m.nodes[n].token = int32(i)
		}
	}
	return m
}

// longestAt returns the pattern index and length of the longest pattern that
// starts at s[i:], or -1.
func (m *matcher) longestAt(s string, i int) (pat, length int) {
	pat = -1
	n := int32(0)
	for j := i; j < len(s); j++ {
		nx := m.nodes[n].child(s[j])
		if nx < 0 {
			break
		}
		n = nx
		if t := m.nodes[n].token; t >= 0 {
			pat, length = int(t), j+1-i
		}
	}
	return pat, length
}

// segment is a piece of text: either an added token (id >= 0) or text that
// still has to go through the pipeline (id < 0).
type segment struct {
	start, end int
	id         int
}

// split appends to dst the segments of s: matched added tokens (honouring
// single_word, lstrip and rstrip as Hugging Face's find_matches does) and the
// unmatched text between them.
func (m *matcher) split(dst []segment, s string, tokens []addedToken) []segment {
	if m.empty || s == "" {
		return append(dst, segment{0, len(s), -1})
	}
	startOffset := 0
	for i := 0; i < len(s); {
		if !m.first[s[i]] {
			i++
			continue
		}
		pat, n := m.longestAt(s, i)
		if pat < 0 {
			i++
			continue
		}
		start, stop := i, i+n
		i = stop // the automaton resumes after the match
		tok := &tokens[pat]
		if tok.singleWord {
			startSpace := start == 0 || !endsWithWord(s[:start])
			stopSpace := stop == len(s) || !startsWithWord(s[stop:])
			if !startSpace || !stopSpace {
				continue
			}
		}
		if tok.lstrip {
			start = max(spaceLeftmostAtEnd(s[:start]), startOffset)
		}
		if tok.rstrip {
			stop += spaceRightmostAtStart(s[stop:])
		}
		if startOffset < start {
			dst = append(dst, segment{startOffset, start, -1})
		}
		dst = append(dst, segment{start, stop, tok.id})
		startOffset = stop
	}
	if startOffset != len(s) {
		dst = append(dst, segment{startOffset, len(s), -1})
	}
	return dst
}

func isAlphanumeric(r rune) bool { return unicode.IsLetter(r) || unicode.IsNumber(r) }

func endsWithWord(s string) bool {
	r, _ := utf8.DecodeLastRuneInString(s)
	return s != "" && isAlphanumeric(r)
}

func startsWithWord(s string) bool {
	r, _ := utf8.DecodeRuneInString(s)
	return s != "" && isAlphanumeric(r)
}

// spaceLeftmostAtEnd returns the offset where the trailing whitespace of s starts.
func spaceLeftmostAtEnd(s string) int {
	i := len(s)
	for i > 0 {
		r, n := utf8.DecodeLastRuneInString(s[:i])
		if !unicode.IsSpace(r) {
			break
		}
		i -= n
	}
	return i
}

// spaceRightmostAtStart returns the length of the leading whitespace of s.
func spaceRightmostAtStart(s string) int {
	i := 0
	for i < len(s) {
		r, n := utf8.DecodeRuneInString(s[i:])
		if !unicode.IsSpace(r) {
			break
		}
		i += n
	}
	return i
}
