package tokenizer

import (
	"runtime"
	"sync"
	"sync/atomic"
)

// Encode returns the token ids of text without adding special tokens (what
// transformers' GPT-NeoX tokenizer returns). Added tokens written in the text,
// special ones included, are matched. Invalid UTF-8 is first replaced with
// U+FFFD per maximal invalid subsequence, as Python's
// bytes.decode(errors="replace") does before Hugging Face sees the text.
func (t *Tokenizer) Encode(text string) []int {
	text = toValidUTF8(text)
	ids := make([]int, 0, len(text)/3+1)
	var segBuf [16]segment
	for _, seg := range t.rawMatcher.split(segBuf[:0], text, t.rawTokens) {
		if seg.id >= 0 {
			ids = append(ids, seg.id)
			continue
		}
		ids = t.encodeNormalizing(ids, text[seg.start:seg.end])
	}
	return ids
}

// encodeNormalizing normalizes a piece of text that holds no raw added token,
// splits out the normalized added tokens and encodes the rest.
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

// encodePiece runs the ByteLevel pre-tokenizer and BPE on normalized text.
func (t *Tokenizer) encodePiece(ids []int, piece string) []int {
	if piece == "" {
		return ids
	}
	if t.pre.addPrefixSpace && piece[0] != ' ' {
		piece = " " + piece
	}
	if !t.pre.useRegex {
		return t.model.appendWord(ids, piece)
	}
	for i := 0; i < len(piece); {
		j := matchWord(piece, i)
		ids = t.model.appendWord(ids, piece[i:j])
		i = j
	}
	return ids
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
