package torch

import (
	"context"
	"testing"
)

// With the CPU cache on, a large block freed by one tensor is handed to the
// next tensor of about the same size, values stay right, and turning it off
// frees the cache and puts libtorch's allocator back.
func TestCPUCacheReusesBlocks(t *testing.T) {
	withCPUCache(t, 64<<20, func() error {
		before := CPUCacheInfo()
		for i := range 5 {
			s := NewScope()
			x := s.Full([]int64{1 << 20}, float64(i), Float32, CPU) // 4 MiB
			y := s.AddScalar(x, 1)
			v, err := y.Float32s()
			s.Close()
			if err != nil {
				return err
			}
			if v[0] != float32(i+1) || v[len(v)-1] != float32(i+1) {
				t.Fatalf("round %d: got %v … %v", i, v[0], v[len(v)-1])
			}
		}
		after := CPUCacheInfo()
		if after.Hits-before.Hits < 4 {
			t.Errorf("hits %d → %d: freed blocks were not reused", before.Hits, after.Hits)
		}
		if after.CachedBytes == 0 || after.CachedBytes > after.LimitBytes || after.LimitBytes != 64<<20 {
			t.Errorf("cache holds %d bytes (limit %d)", after.CachedBytes, after.LimitBytes)
		}
		// A block bigger than the limit is not kept.
		s := NewScope()
		s.Zeros([]int64{32 << 20}, Float32, CPU) // 128 MiB
		s.Close()
		if c := CPUCacheInfo(); c.CachedBytes > c.LimitBytes {
			t.Errorf("cache holds %d bytes over its limit %d", c.CachedBytes, c.LimitBytes)
		}
		TrimCPUCache()
		if c := CPUCacheInfo(); c.CachedBytes != 0 {
			t.Errorf("after trim: %d bytes cached", c.CachedBytes)
		}
		return nil
	})
	if c := CPUCacheInfo(); c.CachedBytes != 0 || c.LimitBytes != 0 {
		t.Errorf("after disabling: %+v", c)
	}
}

// Freed memory is cut to serve smaller tensors and merged again for a
// larger one; an allocation nothing free can hold replaces smaller whole
// free segments; and over the limit, the pages of free blocks in a segment
// still partly in use go back to the kernel.
func TestCPUCacheSplitsAndMerges(t *testing.T) {
	const mib = 1 << 20
	withCPUCache(t, 1<<30, func() error {
		TrimCPUCache()
		// alloc makes a tensor of n MiB filled with v, in its own scope.
		type held struct {
			*Scope
			x *Tensor
		}
		alloc := func(n int64, v float64) held {
			s := NewScope()
			return held{s, s.Full([]int64{n * mib / 4}, v, Float32, CPU)}
		}
		check := func(h held, want float32) {
			t.Helper()
			v, err := h.x.Float32s()
			if err != nil {
				t.Fatal(err)
			}
			if v[0] != want || v[len(v)-1] != want {
				t.Fatalf("got %v … %v, want %v", v[0], v[len(v)-1], want)
			}
		}
		alloc(64, 0).Close()
		c0 := CPUCacheInfo()
		if c0.CachedBytes != 64*mib {
			t.Fatalf("one freed 64 MiB tensor: %d bytes cached", c0.CachedBytes)
		}
		b, c := alloc(16, 1), alloc(16, 2)
		check(b, 1)
		check(c, 2)
		c1 := CPUCacheInfo()
		if c1.Hits-c0.Hits != 2 || c1.Misses != c0.Misses || c1.CachedBytes != 32*mib {
			t.Errorf("two 16 MiB tensors from a free 64 MiB block: %+v → %+v", c0, c1)
		}
		b.Close()
		c.Close()
		d := alloc(64, 3)
		check(d, 3)
		if c2 := CPUCacheInfo(); c2.Misses != c1.Misses || c2.CachedBytes != 0 {
			t.Errorf("64 MiB after the two 16 MiB tensors were freed: %+v → %+v", c1, c2)
		}
		d.Close()
		e := alloc(128, 4) // nothing free holds it: the 64 MiB segment goes back first
		c3 := CPUCacheInfo()
		if c3.CachedBytes != 0 {
			t.Errorf("after a 128 MiB miss beside a free 64 MiB segment: %d bytes cached", c3.CachedBytes)
		}
		e.Close()
		// Over the limit with the segment partly in use: pages go back.
		f := alloc(16, 5)
		if err := EnableCPUCache(8 * mib); err != nil {
			return err
		}
		if c4 := CPUCacheInfo(); c4.CachedBytes > 8*mib {
			t.Errorf("limit 8 MiB with a free 112 MiB block beside a used one: %d bytes cached", c4.CachedBytes)
		}
		g := alloc(32, 6) // from the block whose pages went back: fresh pages
		check(g, 6)
		check(f, 5)
		f.Close()
		g.Close()
		if c5 := CPUCacheInfo(); c5.CachedBytes > c5.LimitBytes {
			t.Errorf("cache holds %d bytes over its limit %d", c5.CachedBytes, c5.LimitBytes)
		}
		return nil
	})
}

// withCPUCache runs fn on the torch worker with the CPU cache enabled at
// limit bytes, and disables it afterwards.
func withCPUCache(t *testing.T, limit int64, fn func() error) {
	t.Helper()
	err := Do(context.Background(), func() error {
		if err := EnableCPUCache(limit); err != nil {
			return err
		}
		defer func() {
			if err := EnableCPUCache(0); err != nil {
				t.Error(err)
			}
		}()
		return fn()
	})
	if err != nil {
		t.Fatal(err)
	}
}
