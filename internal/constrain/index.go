package constrain

import (
	"sync"
)

// Vocab is a tokenizer's vocabulary as bytes, in a trie, so that a state's
// allowed tokens are found by walking the automaton once per distinct token
// prefix instead of once per token. Build it once per tokenizer.
type Vocab struct {
	nodes []trieNode
	size  int // ids 0..size-1
	eos   int // -1 when none
}

type trieNode struct {
	edges  []edge  // by byte, ascending
	tokens []int32 // tokens whose bytes end here
}

type edge struct {
	b    byte
	next int32
}

// NewVocab indexes tokens (tokens[id] is the id's bytes; nil or empty for
// ids that must never be generated, such as special tokens). eos is the
// end-of-sequence id, allowed only where the document is complete; -1 for
// none.
func NewVocab(tokens [][]byte, eos int) *Vocab {
	v := &Vocab{nodes: []trieNode{{}}, size: len(tokens), eos: eos}
	for id, b := range tokens {
		if len(b) == 0 || id == eos {
			continue
		}
		at := int32(0)
		for _, c := range b {
			at = v.child(at, c)
		}
		v.nodes[at].tokens = append(v.nodes[at].tokens, int32(id))
	}
	return v
}

func (v *Vocab) child(at int32, c byte) int32 {
	es := v.nodes[at].edges
	i := 0
	for i < len(es) && es[i].b < c {
		i++
	}
	if i < len(es) && es[i].b == c {
		return es[i].next
	}
	next := int32(len(v.nodes))
	v.nodes = append(v.nodes, trieNode{})
	es = append(es, edge{})
	copy(es[i+1:], es[i:])
	es[i] = edge{c, next}
	v.nodes[at].edges = es
	return next
}

// Size is the number of ids.
func (v *Vocab) Size() int { return v.size }

// Index finds the tokens a grammar allows in a state, over one vocabulary,
// and caches them per state (a long free string revisits the same state at
// every token). It is safe for concurrent use.
type Index struct {
	g *Grammar
	v *Vocab

	mu    sync.Mutex
	cache map[string]*allowed
	bytes int // approximate size of cache
}

// allowed is what a state allows: tokens and the fewest bytes that close the
// document after each.
type allowed struct {
	tokens []int32
	close  []int32
}

// maxCacheBytes bounds an Index's cache; past it the cache starts over.
const maxCacheBytes = 64 << 20

// NewIndex pairs a grammar with a vocabulary.
func NewIndex(g *Grammar, v *Vocab) *Index {
	return &Index{g: g, v: v, cache: map[string]*allowed{}}
}

// Grammar returns the index's grammar.
func (ix *Index) Grammar() *Grammar { return ix.g }

// Allowed returns the tokens that may follow state s when at most budget
// tokens remain, this one included: each keeps the output a valid prefix
// that can still be closed in budget−1 tokens (counting one byte per token,
// as every single byte is a token of a byte-level vocabulary). The EOS id is
// included where s is a complete document. The result is nil when nothing
// fits (budget < 1, or a vocabulary that lacks the bytes needed). It is
// appended to dst.
func (ix *Index) Allowed(dst []int, s State, budget int) []int {
	if budget < 1 || s.Done() {
		return dst
	}
	if s.Accepting() && ix.v.eos >= 0 {
		dst = append(dst, ix.v.eos)
	}
	a := ix.lookup(s)
	for i, t := range a.tokens {
		if int(a.close[i]) <= budget-1 {
			dst = append(dst, int(t))
		}
	}
	return dst
}

func (ix *Index) lookup(s State) *allowed {
	k := s.key()
	ix.mu.Lock()
	a, ok := ix.cache[k]
	ix.mu.Unlock()
	if ok {
		return a
	}
	a = &allowed{}
	ix.walk(a, 0, s)
	ix.mu.Lock()
	if ix.bytes > maxCacheBytes {
		ix.cache, ix.bytes = map[string]*allowed{}, 0
	}
	ix.cache[k] = a
	ix.bytes += len(k) + 8*len(a.tokens) + 64
	ix.mu.Unlock()
	return a
}

// walk visits the trie below node at, with s the state after its bytes.
func (ix *Index) walk(a *allowed, at int32, s State) {
	for _, e := range ix.v.nodes[at].edges {
		ns, ok := s.Feed(e.b)
		if !ok {
			continue
		}
		n := &ix.v.nodes[e.next]
		if len(n.tokens) > 0 {
			c := int32(ns.MinClose())
			for _, t := range n.tokens {
				a.tokens = append(a.tokens, t)
				a.close = append(a.close, c)
			}
		}
		if !ns.Done() {
			ix.walk(a, e.next, ns)
		}
	}
}

// Cache holds one Index per schema for a vocabulary, so a schema's
// automaton is built once; it keeps at most max indexes and starts over past
// that. Safe for concurrent use.
type Cache struct {
	v   *Vocab
	max int

	mu sync.Mutex
	m  map[string]*Index
}

// NewCache makes a cache of up to max indexes over v.
func NewCache(v *Vocab, max int) *Cache {
	return &Cache{v: v, max: max, m: map[string]*Index{}}
}

// Index returns the index of g, building it on first use.
func (c *Cache) Index(g *Grammar) *Index {
	c.mu.Lock()
	defer c.mu.Unlock()
	if ix, ok := c.m[g.Key()]; ok {
		return ix
	}
	if len(c.m) >= c.max {
		c.m = map[string]*Index{}
	}
	ix := NewIndex(g, c.v)
	c.m[g.Key()] = ix
	return ix
}
