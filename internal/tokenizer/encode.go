package tokenizer

import (
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"unicode/utf8"
)

// Encode returns the token ids of text without adding special tokens
// (Hugging Face's encode(text, add_special_tokens=False)). Added tokens
// written in the text, special ones included, are matched. Invalid UTF-8 is
// first replaced with U+FFFD per maximal invalid subsequence, as Python's
// bytes.decode(errors="replace") does before Hugging Face sees the text.
func (t *Tokenizer) Encode(text string) []int {
	text = toValidUTF8(text)
	if t.fast == general {
		ids, _ := t.encodeGeneral(text, false)
		return ids
	}
	ids := make([]int, 0, len(text)/3+1)
	var segBuf [16]segment
	for _, seg := range t.rawMatcher.split(segBuf[:0], text, t.rawTokens) {
		if seg.id >= 0 {
			ids = append(ids, seg.id)
			continue
		}
		if t.fast == fastMetaspace {
			ids = t.encodeMetaspace(ids, text, seg.start, seg.end)
			continue
		}
		ids = t.encodeNormalizing(ids, text[seg.start:seg.end])
	}
	return ids
}

// encodeMetaspace encodes text[start:end] with the Metaspace pre-tokenizer
// and no normalizer (fast path): the text is its own normalized form, so a
// piece's original offset, which prepend_scheme "first" asks for, is known.
func (t *Tokenizer) encodeMetaspace(ids []int, text string, start, end int) []int {
	var segBuf [32]segment
	piece := text[start:end]
	ms := &t.fastMeta
	for _, seg := range t.normMatcher.split(segBuf[:0], piece, t.normTokens) {
		if seg.id >= 0 {
			ids = append(ids, seg.id)
			continue
		}
		if seg.end <= seg.start {
			continue
		}
		s := strings.ReplaceAll(piece[seg.start:seg.end], " ", ms.repl)
		if !strings.HasPrefix(s, ms.repl) && (ms.scheme == "always" || (ms.scheme == "first" && start+seg.start == 0)) {
			s = ms.repl + s
		}
		if !ms.split {
			ids = t.model.appendWord(ids, s)
			continue
		}
		// MergedWithNext on the replacement: each word starts at one.
		last := 0
		for i := 0; ; {
			k := strings.Index(s[i:], ms.repl)
			if k < 0 {
				break
			}
			if i+k > last {
				ids = t.model.appendWord(ids, s[last:i+k])
				last = i + k
			}
			i += k + len(ms.repl)
		}
		if last < len(s) {
			ids = t.model.appendWord(ids, s[last:])
		}
	}
	return ids
}

// EncodeWithSpecialTokens returns the token ids of text with the special
// tokens the post-processor adds (Hugging Face's encode(text).ids): for a
// tokenizer.json's post-processor adds (e.g. Llama's <s> or Llama 3's
// <|begin_of_text|>), which is also what transformers 5's AutoTokenizer adds
// (see Load). Use it for prompts and training rows.
func (t *Tokenizer) EncodeWithSpecialTokens(text string) []int {
	ids := t.Encode(text)
	if len(t.post.before) == 0 && len(t.post.after) == 0 {
		return ids
	}
	out := make([]int, 0, len(ids)+len(t.post.before)+len(t.post.after))
	out = append(out, t.post.before...)
	out = append(out, ids...)
	return append(out, t.post.after...)
}

// SpecialTokensAdded returns the ids EncodeWithSpecialTokens puts before and
// after the encoding of any text.
func (t *Tokenizer) SpecialTokensAdded() (before, after []int) {
	return append([]int(nil), t.post.before...), append([]int(nil), t.post.after...)
}

// EncodeOffsets returns Encode's ids with, for each, the byte range
// [start, end) of text it stands for, as Hugging Face's encoding offsets
// (which are in characters in Python; these are in bytes): an added token
// covers its match; a token of a character cut into several tokens (byte
// fallback, byte-level pieces) covers the whole character; characters the
// normalizer inserts share the range of their neighbour; a ByteLevel
// post-processor with trim_offsets moves the ends of ranges past spaces.
// Text that is not valid UTF-8 is first repaired as Encode does, and the
// offsets then index the repaired text.
func (t *Tokenizer) EncodeOffsets(text string) (ids []int, offsets [][2]int) {
	text = toValidUTF8(text)
	ids, offsets = t.encodeGeneral(text, true)
	if t.post.trimOffsets && len(ids) > 0 {
		// Python's tokenizers trims character offsets (it converts them before
		// post-processing), so trim in characters and convert back to bytes.
		toks := make([]string, len(ids))
		for i, id := range ids {
			toks[i], _ = t.IDToToken(id)
		}
		charAt := make([]int, len(text)+1) // byte offset -> character index
		byteAt := make([]int, 0, len(text)+1)
		c := 0
		for i := 0; i < len(text); c++ {
			_, w := utf8.DecodeRuneInString(text[i:])
			for k := 0; k < w; k++ {
				charAt[i+k] = c
			}
			byteAt = append(byteAt, i)
			i += w
		}
		charAt[len(text)] = c
		byteAt = append(byteAt, len(text))
		for i := range offsets {
			offsets[i] = [2]int{charAt[offsets[i][0]], charAt[offsets[i][1]]}
		}
		t.post.trim(toks, offsets)
		for i := range offsets {
			offsets[i] = [2]int{byteAt[offsets[i][0]], byteAt[offsets[i][1]]}
		}
	}
	return ids, offsets
}

// encodeNormalizing normalizes a piece of text that holds no raw added token,
// splits out the normalized added tokens and encodes the rest (fast path).
func (t *Tokenizer) encodeNormalizing(ids []int, piece string) []int {
	if piece == "" {
		return ids
	}
	piece = t.normalize(piece)
	var segBuf [32]segment
	for _, seg := range t.normMatcher.split(segBuf[:0], piece, t.normTokens) {
		if seg.id >= 0 {
			ids = append(ids, seg.id)
			continue
		}
		ids = t.encodePiece(ids, piece[seg.start:seg.end])
	}
	return ids
}

// encodePiece runs the byte-level pre-tokenizer and BPE on normalized text
// (fast path).
func (t *Tokenizer) encodePiece(ids []int, piece string) []int {
	if piece == "" {
		return ids
	}
	switch t.fast {
	case fastSplitByteLevel:
		var mbuf [64][2]int
		last := 0
		for _, m := range t.fastSplit.find(piece, mbuf[:0]) {
			if m[0] > last {
				ids = t.model.appendWord(ids, piece[last:m[0]])
			}
			if m[1] > m[0] {
				ids = t.model.appendWord(ids, piece[m[0]:m[1]])
			}
			last = m[1]
		}
		if last < len(piece) {
			ids = t.model.appendWord(ids, piece[last:])
		}
		return ids
	}
	if t.fastPrefix && piece[0] != ' ' {
		piece = " " + piece
	}
	if t.fast == fastByteLevel {
		return t.model.appendWord(ids, piece)
	}
	for i := 0; i < len(piece); {
		j := matchWord(piece, i)
		ids = t.model.appendWord(ids, piece[i:j])
		i = j
	}
	return ids
}

// encodeGeneral runs the whole pipeline with Hugging Face's alignment
// bookkeeping (needed for offsets, and for Metaspace's prepend_scheme
// "first", which asks where a piece began in the original text).
func (t *Tokenizer) encodeGeneral(text string, wantOffsets bool) ([]int, [][2]int) {
	ids := make([]int, 0, len(text)/3+1)
	var offs [][2]int
	lens := make([]int, 0, 16)
	var segBuf [16]segment
	for _, seg := range t.rawMatcher.split(segBuf[:0], text, t.rawTokens) {
		if seg.id >= 0 {
			ids = append(ids, seg.id)
			if wantOffsets {
				offs = append(offs, [2]int{seg.start, seg.end})
			}
			continue
		}
		if seg.end <= seg.start {
			continue
		}
		n := newNstr(text[seg.start:seg.end], seg.start)
		t.normalizeN(&n)
		var nb [32]segment
		for _, ns := range t.normMatcher.split(nb[:0], n.s, t.normTokens) {
			if ns.id >= 0 {
				ids = append(ids, ns.id)
				if wantOffsets {
					offs = append(offs, n.offsets(ns.start, ns.end))
				}
				continue
			}
			if ns.end <= ns.start {
				continue
			}
			pieces := []nstr{n.slice(ns.start, ns.end)}
			for _, st := range t.pre {
				var next []nstr
				for _, p := range pieces {
					next = st.preTokenize(next, p)
				}
				pieces = next
			}
			for i := range pieces {
				p := &pieces[i]
				if p.s == "" {
					continue
				}
				if !wantOffsets {
					ids = t.model.appendWord(ids, p.s)
					continue
				}
				start := len(ids)
				ids, lens = t.model.mergeWord(ids, lens[:0], p.s)
				pos := 0
				for k := range ids[start:] {
					offs = append(offs, p.offsets(pos, pos+lens[k]))
					pos += lens[k]
				}
			}
		}
	}
	return ids, offs
}

// EncodeBatch encodes texts on all cores (GOMAXPROCS goroutines); result i
// is Encode(texts[i]).
func (t *Tokenizer) EncodeBatch(texts []string) [][]int {
	out := make([][]int, len(texts))
	workers := min(runtime.GOMAXPROCS(0), len(texts))
	if workers <= 1 {
		for i, s := range texts {
			out[i] = t.Encode(s)
		}
		return out
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= len(texts) {
					return
				}
				out[i] = t.Encode(texts[i])
			}
		}()
	}
	wg.Wait()
	return out
}

// EncodeWithSpecialTokensTruncated is EncodeWithSpecialTokens keeping at
// most max ids: like transformers with truncation, the text's own ids are cut
// (from side) to leave room for the special tokens, which are kept. When max
// cannot hold the special tokens, the result is cut to max from side.
func (t *Tokenizer) EncodeWithSpecialTokensTruncated(text string, max int, side Side) []int {
	room := max - len(t.post.before) - len(t.post.after)
	if room < 0 {
		return Truncate(t.EncodeWithSpecialTokens(text), max, side)
	}
	ids := Truncate(t.Encode(text), room, side)
	out := make([]int, 0, len(ids)+len(t.post.before)+len(t.post.after))
	out = append(out, t.post.before...)
	out = append(out, ids...)
	return append(out, t.post.after...)
}

// SpecialEncoder shows a Tokenizer to code that calls Encode (such as
// data.Tokenize) with EncodeWithSpecialTokens behind it, so training rows get
// the special tokens transformers' AutoTokenizer adds (Llama's <s>).
type SpecialEncoder struct{ *Tokenizer }

// Encode is EncodeWithSpecialTokens.
func (s SpecialEncoder) Encode(text string) []int { return s.Tokenizer.EncodeWithSpecialTokens(text) }
