package tokenizer

import (
	"fmt"
	"sync"
	"unicode/utf8"
)

// bpe is a byte-level BPE model. Words are raw bytes: the vocabulary's
// byte-level strings are mapped back to bytes once at load time, so encoding
// never builds the "Ġ..." strings.
type bpe struct {
	byteID       [256]int32        // id of each single byte, -1 if not in the vocabulary
	merges       map[uint64]mergeV // (left id, right id) -> rank and merged id
	vocab        map[string]int    // raw-bytes word -> id, for ignore_merges
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

// newBPE builds the model from the vocabulary (byte-level strings -> ids) and
// the merges, in rank order. As in Hugging Face's BPE, a later duplicate of a
// merge overrides the earlier rank.
func newBPE(m *modelJSON, merges [][2]string) (*bpe, error) {
	b := &bpe{
		merges:       make(map[uint64]mergeV, len(merges)),
		ignoreMerges: m.IgnoreMerges,
		unkID:        -1,
		fuseUnk:      m.FuseUnk,
		cache:        newWordCache(wordCacheCapacity),
	}
	for i := range b.byteID {
		b.byteID[i] = -1
	}
	for tok, id := range m.Vocab {
		if r, n := utf8.DecodeRuneInString(tok); n == len(tok) && n > 0 {
			if c, ok := charByte[r]; ok {
				b.byteID[c] = int32(id)
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
		b.vocab = make(map[string]int, len(m.Vocab))
		for tok, id := range m.Vocab {
			if raw, ok := byteLevelToBytes(tok); ok {
				b.vocab[string(raw)] = id
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

// appendWord appends the ids of one word (raw bytes) to dst, using the cache.
func (b *bpe) appendWord(dst []int, word string) []int {
	if len(word) == 1 {
		if id := b.byteID[word[0]]; id >= 0 {
			return append(dst, int(id))
		}
	}
	if ids, ok := b.cache.get(word); ok {
		return append(dst, ids...)
	}
	start := len(dst)
	dst = b.mergeWord(dst, word)
	b.cache.put(word, dst[start:])
	return dst
}

// mergeWord runs the BPE merges on word exactly as Hugging Face's
// Word::merge_all: a priority queue ordered by (rank, position) so the lowest
// rank merges first and ties go to the leftmost pair; stale entries are
// skipped when their pair no longer exists.
func (b *bpe) mergeWord(dst []int, word string) []int {
	if b.ignoreMerges {
		if id, ok := b.vocab[word]; ok {
			return append(dst, id)
		}
	}
	sc := b.scratch.Get().(*bpeScratch)
	defer b.scratch.Put(sc)
	syms := sc.syms[:0]
	lastUnk := false
	for i := 0; i < len(word); i++ {
		id := b.byteID[word[i]]
		if id < 0 {
			if b.unkID < 0 {
				continue // Hugging Face drops a character it cannot map
			}
			if b.fuseUnk && lastUnk {
				continue
			}
			id, lastUnk = b.unkID, true
		} else {
			lastUnk = false
		}
		n := int32(len(syms))
		syms = append(syms, symbol{id: id, prev: n - 1, next: n + 1})
	}
	if len(syms) == 0 {
		sc.syms = syms
		return dst
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
	}
	sc.syms, sc.heap = syms, h
	return dst
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
