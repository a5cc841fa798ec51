package tokenizer

import (
	"hash/maphash"
	"strings"
	"sync"
)

// wordCacheCapacity bounds the number of cached words, like the 10,000-word
// cache of Hugging Face's BPE; words longer than maxCachedWord are not cached.
const (
	wordCacheCapacity = 1 << 16
	maxCachedWord     = 256
	cacheShards       = 64
)

// wordCache maps a word (raw bytes) to its ids. It is sharded so that
// EncodeBatch's goroutines rarely contend; once a shard is full it stops
// growing (entries are never evicted, so a lookup never misses a word that
// was there).
type wordCache struct {
	seed     maphash.Seed
	perShard int
	shards   [cacheShards]cacheShard
}

type cacheShard struct {
	mu sync.RWMutex
	m  map[string][]int
	_  [40]byte // keep shards on separate cache lines
}

func newWordCache(capacity int) *wordCache {
	c := &wordCache{seed: maphash.MakeSeed(), perShard: capacity / cacheShards}
	for i := range c.shards {
		c.shards[i].m = make(map[string][]int)
	}
	return c
}

func (c *wordCache) shard(word string) *cacheShard {
	return &c.shards[maphash.String(c.seed, word)%cacheShards]
}

func (c *wordCache) get(word string) ([]int, bool) {
	if len(word) > maxCachedWord {
		return nil, false
	}
	s := c.shard(word)
	s.mu.RLock()
	ids, ok := s.m[word]
	s.mu.RUnlock()
	return ids, ok
}

func (c *wordCache) put(word string, ids []int) {
	if len(word) > maxCachedWord {
		return
	}
	s := c.shard(word)
	s.mu.Lock()
	if len(s.m) < c.perShard {
		// Copy both: word may alias a larger input string, ids the caller's slice.
		s.m[strings.Clone(word)] = append([]int(nil), ids...)
	}
	s.mu.Unlock()
}
