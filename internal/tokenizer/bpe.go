package tokenizer

import (
	"fmt"
	"sync"
	"unicode/utf8"
)

// bpe is a BPE model. In byte-level mode (the tokenizer has a ByteLevel
// pre-tokenizer) words are raw bytes: the vocabulary's byte-level strings are
// mapped back to bytes once at load time, so encoding never builds the
// "Ġ..." strings. Otherwise words are characters looked up in the vocabulary,
// with byte_fallback to "<0xAB>" tokens and unk_token for the rest.
type bpe struct {
	byteLevel    bool
	byteID       [256]int32        // id of each single byte (byte-level mode), -1 if not in the vocabulary
	fallbackID   [256]int32        // id of "<0xAB>" per byte, -1 if absent
	byteFallback bool              // use fallbackID for characters not in the vocabulary
	merges       map[uint64]mergeV // (left id, right id) -> rank and merged id
	vocab        map[string]int    // character-mode lookups; the model vocabulary
	wordVocab    map[string]int    // ignore_merges lookups: raw bytes (byte-level) or the vocabulary
	ignoreMerges bool
	unkID        int32 // -1 when the model has no unk_token
	fuseUnk      bool
	cache        *wordCache
	scratch      sync.Pool // *bpeScratch
}

type mergeV struct {
	rank  int32
	newID int32
}

func pairKey(a, b int32) uint64 { return uint64(uint32(a))<<32 | uint64(uint32(b)) }

// newBPE builds the model from the vocabulary and the merges, in rank order.
// As in Hugging Face's BPE, a later duplicate of a merge overrides the
// earlier rank.
func newBPE(m *modelJSON, merges [][2]string, byteLevel bool) (*bpe, error) {
	b := &bpe{
		byteLevel:    byteLevel,
		byteFallback: m.ByteFallback,
		merges:       make(map[uint64]mergeV, len(merges)),
		vocab:        m.Vocab,
		ignoreMerges: m.IgnoreMerges,
		unkID:        -1,
		fuseUnk:      m.FuseUnk,
		cache:        newWordCache(wordCacheCapacity),
	}
	for i := range b.byteID {
		b.byteID[i], b.fallbackID[i] = -1, -1
	}
	for i := range b.fallbackID {
		if id, ok := m.Vocab[fmt.Sprintf("<0x%02X>", i)]; ok {
			b.fallbackID[i] = int32(id)
		}
	}
	if byteLevel {
		for tok, id := range m.Vocab {
			if r, n := utf8.DecodeRuneInString(tok); n == len(tok) && n > 0 {
				if c, ok := charByte[r]; ok {
					b.byteID[c] = int32(id)
				}
			}
		}
	}
	if m.UnkToken != nil {
		id, ok := m.Vocab[*m.UnkToken]
		if !ok {
			return nil, fmt.Errorf("model.unk_token %q is not in the vocabulary", *m.UnkToken)
		}
		b.unkID = int32(id)
	}
	if m.IgnoreMerges {
		b.wordVocab = m.Vocab
		if byteLevel {
			b.wordVocab = make(map[string]int, len(m.Vocab))
			for tok, id := range m.Vocab {
				if raw, ok := byteLevelToBytes(tok); ok {
					b.wordVocab[string(raw)] = id
				}
			}
		}
	}
	for i, mg := range merges {
		a, okA := m.Vocab[mg[0]]
		c, okB := m.Vocab[mg[1]]
		if !okA || !okB {
			missing := mg[0]
			if okA {
				missing = mg[1]
			}
			return nil, fmt.Errorf("merges[%d] %q %q: token %q is not in the vocabulary", i, mg[0], mg[1], missing)
		}
		n, ok := m.Vocab[mg[0]+mg[1]]
		if !ok {
			return nil, fmt.Errorf("merges[%d] %q %q: merged token %q is not in the vocabulary", i, mg[0], mg[1], mg[0]+mg[1])
		}
		b.merges[pairKey(int32(a), int32(c))] = mergeV{rank: int32(i), newID: int32(n)}
	}
	b.scratch.New = func() any { return &bpeScratch{} }
	return b, nil
}

// symbol is one element of the linked list of a word being merged.
type symbol struct {
	id         int32
	prev, next int32
	n          int32 // bytes of the word it covers
	removed    bool
}

// candidate is a queued merge: merge the symbol at pos with its next one.
type candidate struct {
	rank, pos, newID int32
}

func (a candidate) less(b candidate) bool {
	return a.rank < b.rank || (a.rank == b.rank && a.pos < b.pos)
}

type bpeScratch struct {
	syms []symbol
	heap []candidate
}

// appendWord appends the ids of one word to dst, using the cache.
func (b *bpe) appendWord(dst []int, word string) []int {
	if b.byteLevel && len(word) == 1 {
		if id := b.byteID[word[0]]; id >= 0 {
			return append(dst, int(id))
		}
	}
	if ids, ok := b.cache.get(word); ok {
		return append(dst, ids...)
	}
	start := len(dst)
	dst, _ = b.mergeWord(dst, nil, word)
	b.cache.put(word, dst[start:])
	return dst
}

// symbolsOf appends the initial symbols of word, as Hugging Face's
// BPE::merge_word builds them: each character (each byte in byte-level mode)
// is its vocabulary id, else its "<0xAB>" byte tokens with byte_fallback,
// else unk_token (consecutive ones fused with fuse_unk); a character with
// none of these is dropped.
func (b *bpe) symbolsOf(syms []symbol, word string) []symbol {
	add := func(id, n int32) {
		k := int32(len(syms))
		syms = append(syms, symbol{id: id, prev: k - 1, next: k + 1, n: n})
	}
	unkN := int32(-1) // bytes of the pending unk, -1 when none
	for i := 0; i < len(word); {
		var id int32 = -1
		w := 1
		if b.byteLevel {
			id = b.byteID[word[i]]
		} else {
			_, w = utf8.DecodeRuneInString(word[i:])
			if v, ok := b.vocab[word[i:i+w]]; ok {
				id = int32(v)
			}
		}
		if id >= 0 {
			if unkN >= 0 {
				add(b.unkID, unkN)
				unkN = -1
			}
			add(id, int32(w))
			i += w
			continue
		}
		if b.byteFallback {
			ok := true
			for k := i; k < i+w; k++ {
				if b.fallbackID[word[k]] < 0 {
					ok = false
					break
				}
			}
			if ok {
				for k := i; k < i+w; k++ {
					add(b.fallbackID[word[k]], 1)
				}
				i += w
				continue
			}
		}
		if b.unkID >= 0 {
			switch {
			case unkN >= 0 && b.fuseUnk:
				unkN += int32(w)
			case unkN >= 0:
				add(b.unkID, unkN)
				unkN = int32(w)
			default:
				unkN = int32(w)
			}
		}
		i += w
	}
	if unkN >= 0 {
		add(b.unkID, unkN)
	}
	return syms
}

// mergeWord runs the BPE merges on word exactly as Hugging Face's
// Word::merge_all: a priority queue ordered by (rank, position) so the lowest
// rank merges first and ties go to the leftmost pair; stale entries are
// skipped when their pair no longer exists. It appends the ids to dst and,
// when lens is not nil, the byte length of each token to lens.
func (b *bpe) mergeWord(dst []int, lens []int, word string) ([]int, []int) {
	if b.ignoreMerges {
		if id, ok := b.wordVocab[word]; ok {
			if lens != nil {
				lens = append(lens, len(word))
			}
			return append(dst, id), lens
		}
	}
	sc := b.scratch.Get().(*bpeScratch)
	defer b.scratch.Put(sc)
	syms := b.symbolsOf(sc.syms[:0], word)
	if len(syms) == 0 {
		sc.syms = syms
		return dst, lens
	}
	syms[len(syms)-1].next = -1

	h := sc.heap[:0]
	for i := 0; i+1 < len(syms); i++ {
		if m, ok := b.merges[pairKey(syms[i].id, syms[i+1].id)]; ok {
			h = heapPush(h, candidate{m.rank, int32(i), m.newID})
		}
	}
	for len(h) > 0 {
		var top candidate
		top, h = heapPop(h)
		cur := &syms[top.pos]
		if cur.removed || cur.next < 0 {
			continue
		}
		right := syms[cur.next]
		if m, ok := b.merges[pairKey(cur.id, right.id)]; !ok || m.newID != top.newID {
			continue // stale entry
		}
		cur.id = top.newID
		cur.n += right.n
		syms[cur.next].removed = true
		cur.next = right.next
		if right.next >= 0 {
			syms[right.next].prev = top.pos
		}
		if cur.prev >= 0 {
			if m, ok := b.merges[pairKey(syms[cur.prev].id, cur.id)]; ok {
				h = heapPush(h, candidate{m.rank, cur.prev, m.newID})
			}
		}
		if cur.next >= 0 {
			if m, ok := b.merges[pairKey(cur.id, syms[cur.next].id)]; ok {
				h = heapPush(h, candidate{m.rank, top.pos, m.newID})
			}
		}
	}
	for i := int32(0); i >= 0; i = syms[i].next {
		dst = append(dst, int(syms[i].id))
		if lens != nil {
			lens = append(lens, int(syms[i].n))
		}
	}
	sc.syms, sc.heap = syms, h
	return dst, lens
}

func heapPush(h []candidate, c candidate) []candidate {
	h = append(h, c)
	i := len(h) - 1
	for i > 0 {
		p := (i - 1) / 2
		if !h[i].less(h[p]) {
			break
		}
		h[i], h[p] = h[p], h[i]
		i = p
	}
	return h
}

func heapPop(h []candidate) (candidate, []candidate) {
	top := h[0]
	n := len(h) - 1
	h[0] = h[n]
	h = h[:n]
	i := 0
	for {
		l := 2*i + 1
		if l >= n {
			break
		}
		m := l
		if r := l + 1; r < n && h[r].less(h[l]) {
			m = r
		}
		if !h[m].less(h[i]) {
			break
		}
		h[i], h[m] = h[m], h[i]
		i = m
	}
	return top, h
}
