package torch

import (
	"context"
	"testing"
)

// With the CPU cache on, a large block freed by one tensor is handed to the
// next tensor of about the same size, values stay right, and turning it off
// frees the cache and puts libtorch's allocator back.
func TestCPUCacheReusesBlocks(t *testing.T) {
	err := Do(context.Background(), func() error {
		if err := EnableCPUCache(64 << 20); err != nil {
			return err
		}
		defer func() {
			if err := EnableCPUCache(0); err != nil {
				t.Error(err)
			}
		}()
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
	if err != nil {
		t.Fatal(err)
	}
	if c := CPUCacheInfo(); c.CachedBytes != 0 || c.LimitBytes != 0 {
		t.Errorf("after disabling: %+v", c)
	}
}
