package tokenizer

import (
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
	perShard int
	shards   [cacheShards]cacheShard
}

type cacheShard struct {
	mu sync.RWMutex
	m  map[string][]int
	_  [40]byte // keep shards on separate cache lines
}

func newWordCache(capacity int) *wordCache {
	c := &wordCache{perShard: capacity / cacheShards}
	for i := range c.shards {
		c.shards[i].m = make(map[string][]int)
	}
	return c
}

// shard picks a shard from a cheap mix of the word's length and edge bytes
// (the map hashes the word again; a full hash here would double that cost).
func (c *wordCache) shard(word string) *cacheShard {
	h := uint(len(word)) * 0x9E3779B1
	if len(word) > 0 {
		h ^= uint(word[0])*31 + uint(word[len(word)-1])*131 + uint(word[len(word)/2])*7
	}
	return &c.shards[(h^h>>7)%cacheShards]
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
